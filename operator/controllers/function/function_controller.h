// FunctionController: keeps each Function's replicas at its desired count on
// whichever Platform runs them (pods through the apiserver, or local
// processes: platform/platform.h). It is the one reconcile of a Function for
// both: the Manager's Controller calls it on every change, on Kubernetes and
// under --local alike.
//
// One reconcile of "namespace/name":
//   1. renders the runtime configuration from the Function and its Triggers;
//   2. desired = spec.replicas when set (autoscaling paused), else the
//      autoscaler's status.desiredReplicas clamped to [minReplicas, maxReplicas];
//   3. hands both to Platform::apply, which makes the replicas exist and
//      reports what it found (ReplicaCounts) and did;
//   4. checks the Secret keys its outputs, dead letter and env name
//      (controllers/secrets): a missing one is Ready=False SecretNotFound or
//      SecretKeyMissing naming the field, rechecked every 30 s until fixed;
//   5. writes status (replicas, readyReplicas, selector, triggerCount,
//      warmReplicas, imageDigest, observedGeneration, conditions
//      Ready/Active/Degraded)
//      with a merge patch that leaves the autoscaler's fields alone, and an
//      Event per step.
// A spec the renderer or the platform refuses gets Ready=False/InvalidSpec and
// a terminal error: it waits for an edit.
// Thread-safety: reconcile() runs on the Controller's workers, never twice at
// once for one key; the caches, client and platform are thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "platform/platform.h"
#include "reconcile/event_recorder.h"
#include "reconcile/reconciler.h"

namespace sluice::controllers {

// The caches the controller reads (the Manager's informers).
struct FunctionControllerCaches {
  const kube::ObjectCache& functions;
  const kube::ObjectCache& triggers;
};

class FunctionController final : public reconcile::Reconciler {
 public:
  // `gatewayUrl`: the gateway's public base URL; given, a Function with an http
  // Trigger gets status.url (api::functionUrl: <gatewayUrl>/<namespace>/<name>,
  // or <name>.<namespace>.<gatewayDomain> when the gateway routes by host).
  FunctionController(kube::ResourceClient& client, FunctionControllerCaches caches, platform::Platform& platform,
                     reconcile::EventRecorder& events, Clock& clock, std::string gatewayUrl = "",
                     std::string gatewayDomain = "");

  reconcile::ReconcileResult reconcile(const std::string& key) override;

  // A sharded operator: status.shard of the Function `key` (its bucket and
  // this replica), written with the rest of the status. Set before the Manager runs.
  void setShardStamp(std::function<nlohmann::json(const std::string& key)> stamp) { shardStamp_ = std::move(stamp); }

  // A new Function's Triggers usually come a moment after it (one kubectl apply
  // or helm install creates them one after the other). With a grace, a Function
  // that wants replicas and has no Trigger yet gets its first pod only once one
  // comes (its event reconciles it at once) or `grace` after its
  // creationTimestamp: started without them, the pod is replaced when they come
  // (bench/scale at 1,000: 999 replaced, twice the apiserver requests). Zero
  // (the default): no wait. Set before the Manager runs.
  void setTriggerGrace(Clock::Duration grace) { triggerGrace_ = grace; }

  // Keys of the Functions a Trigger refers to (for Controller::watchMapped).
  static std::vector<std::string> functionsOfTrigger(const nlohmann::json& trigger);

  // How long after a settled reconcile a Function is looked at again with no
  // event: kResyncPeriod plus up to a minute, the same for a key every time,
  // so Functions applied together do not come back together.
  static constexpr Clock::Duration kResyncPeriod = std::chrono::minutes(10);
  static Clock::Duration resyncAfter(const std::string& key);

 private:
  // How long the first pod of `function` still waits for its Triggers (setTriggerGrace); zero: none.
  Clock::Duration triggerWait(const nlohmann::json& function, size_t triggers, int desired) const;
  // status fields that do not depend on the pods: generation, selector, Trigger count, URL.
  nlohmann::json baseStatus(const nlohmann::json& function, const std::vector<nlohmann::json>& triggers) const;
  // What keeps the Function from Ready until a person acts: a missing Secret or key
  // (controllers/secrets), else a replica's (ReplicaCounts::problem); reason "" when none.
  struct Problem {
    std::string reason;
    std::string message;
  };
  // Ready/Active/Degraded after an apply.
  nlohmann::json conditionsAfter(const nlohmann::json& function, const platform::ApplyOutcome& outcome, int desired,
                                 const Problem& problem) const;
  reconcile::ReconcileResult refuse(const std::string& key, const nlohmann::json& function, nlohmann::json status,
                                    const Status& why);
  Status writeStatus(const nlohmann::json& function, const nlohmann::json& status);
  // A Warning Event when a problem first shows.
  void recordProblem(const nlohmann::json& function, const Problem& problem);
  void recordSteps(const nlohmann::json& function, const platform::ApplyOutcome& outcome, int desired);

  kube::ResourceClient& client_;
  FunctionControllerCaches caches_;
  platform::Platform& platform_;
  reconcile::EventRecorder& events_;
  Clock& clock_;
  const std::string gatewayUrl_;
  const std::string gatewayDomain_;
  std::function<nlohmann::json(const std::string& key)> shardStamp_;
  Clock::Duration triggerGrace_ = Clock::Duration::zero();
};

}  // namespace sluice::controllers
