// ReplicaPlan: what the KubePlatform must do to move a Function's
// replica pods toward the desired count — pure and deterministic, so every
// rule is table-tested without a server.
//
// Rules (ReplicaSet-like, plus warm pools and rolling replacement):
// - Terminating pods are ignored; failed or evicted pods are deleted and replaced.
// - Missing replicas come from the warm pool first (adopt), the rest are created.
// - Surplus replicas are removed most-expendable first: unscheduled, not ready,
//   outdated template, least in-flight work, newest, then by name.
// - A spec change replaces pods one at a time with surge 1 and unavailable 0:
//   one up-to-date pod is added, and an outdated one is removed only once every
//   up-to-date pod is ready. A pod whose credentials are stale is outdated too.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace sluice::platform {

struct ReplicaPod {
  std::string name;
  std::string templateHash;
  bool scheduled = false;    // bound to a node
  bool ready = false;        // Ready condition true
  bool terminating = false;  // deletionTimestamp set
  bool failed = false;       // phase Failed (evicted, crashed for good)
  // Its credentials no longer serve (platform/kube/control_token.h): replaced as an outdated template is.
  bool stale = false;
  int inFlight = 0;  // work in progress as reported by the replica; lower is idler
  std::chrono::system_clock::time_point created{};
  // Why its container cannot serve and needs a person (CrashLoopBackOff,
  // ImagePullBackOff, CreateContainerConfigError, OOMKilled, ...), "" when
  // nothing is wrong; problemMessage: the kubelet's message and the last
  // exit's termination message (the runtime writes why it stopped there).
  std::string problem{};
  std::string problemMessage{};
  // The kubelet's imageID of the container holding the Function's code (KubePlatform), "" if not reported.
  std::string imageDigest{};
};

struct ReplicaPlanInput {
  int desired = 0;
  std::string currentTemplateHash;
  std::vector<ReplicaPod> pods;  // pods owned by the Function
  int warmAvailable = 0;         // ready warm-pool pods that may be adopted
};

enum class RemovalReason { kFailed, kScaleDown, kReplaced };

struct PodRemoval {
  std::string name;
  RemovalReason reason;
  friend bool operator==(const PodRemoval&, const PodRemoval&) = default;
};

struct ReplicaPlan {
  int adopt = 0;                   // warm pods to adopt and specialize
  int create = 0;                  // fresh pods to create
  std::vector<PodRemoval> remove;  // pods to drain (unless failed) and delete, in order
  bool rolloutWaiting = false;     // a replacement is held back until new pods are ready
};

ReplicaPlan planReplicas(const ReplicaPlanInput& input);

const char* removalReasonName(RemovalReason reason);

}  // namespace sluice::platform
