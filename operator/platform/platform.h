// Platform: where a Function's replicas run. The autoscaler decides how many
// (status.desiredReplicas), the renderer decides what they run (the runtime
// configuration) and the FunctionController (controllers/function) turns both
// into a ReplicaSpec and writes the Function's status from what the Platform
// reports. A Platform only makes that many replicas of that configuration exist:
//   - kube:  pods through the apiserver (KubePlatform, platform/kube), with
//            warm-pod adoption, expectations and drains;
//   - local: child `sluice-runtime` processes on this machine (LocalPlatform,
//            platform/local), which `sluice-operator --local` runs.
// Neither the autoscaler, the FunctionController nor the CronFirer knows which
// one runs. Implementations are thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "spec/runtime_config_render.h"

namespace sluice::platform {

// What one Function needs from the platform now.
struct ReplicaSpec {
  std::string key;                // "namespace/name"
  nlohmann::json function;        // the Function object as read
  spec::RenderedConfig rendered;  // its runtime configuration, rendered from it and its Triggers
  int desired = 0;
};

// What the platform has for a Function.
struct ReplicaCounts {
  int desired = 0;
  int ready = 0;     // serving
  int starting = 0;  // started or specialized, not ready yet
  int draining = 0;  // finishing their work before they exit (terminating)
  int failed = 0;    // failed for good and being replaced (counted in starting or ready too)
  int restarts = 0;  // replicas that died on their own and were replaced
  int warm = -1;     // warm replicas the Function could adopt; -1: it has no warm pool
  // The first live replica's problem (ReplicaPod::problem) and which pod says
  // it, for the Function's conditions; "" when none has one.
  std::string problem{};
  std::string problemMessage{};
  // The image the newest ready replica runs the Function's code from (ReplicaPod::imageDigest), "" when
  // no ready replica reports one (the Function's status.imageDigest).
  std::string imageDigest{};
  int live() const { return ready + starting; }
  friend bool operator==(const ReplicaCounts&, const ReplicaCounts&) = default;
};

// What one apply() found and did.
struct ApplyOutcome {
  ReplicaCounts counts;   // as found, before this pass's changes
  int adopted = 0;        // warm replicas taken over
  int created = 0;        // replicas started fresh
  int removed = 0;        // surplus replicas drained and removed
  int replaced = 0;       // failed or outdated replicas removed for new ones
  std::string failure;    // the first error while changing replicas (the rest of the pass went on)
  bool settling = false;  // the platform waits for its view to catch up (or a rollout): look again soon
};

class Platform {
 public:
  virtual ~Platform() = default;
  // Level-triggered: call again whenever anything may have changed. A changed
  // configuration replaces the replicas (drain old, start new). An error with
  // code kInvalidArgument means the spec cannot run on this platform (waiting
  // for an edit is the only cure; the replicas are left as they are); other
  // errors are worth a retry.
  virtual Result<ApplyOutcome> apply(const ReplicaSpec& spec) = 0;
  // The Function is gone: its replicas go (drained).
  virtual void forget(const std::string& key) = 0;
  virtual ReplicaCounts counts(const std::string& key) const = 0;
  // Hands an event the operator generates (a cron tick) to one ready replica's
  // /invoke; returns which replica took it. kUnavailable: no ready replica, or
  // it asked for another try (draining, not yet specialized); any other error
  // is the replica's verdict on the event (its handler failed every attempt).
  virtual Result<std::string> invoke(const std::string& key, const std::string& trigger, const std::string& eventType,
                                     const std::string& body) = 0;
};

}  // namespace sluice::platform
