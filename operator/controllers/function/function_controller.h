// FunctionController: keeps each Function's replica pods at its desired count,
// managing the pods directly (as the ReplicaSet controller does) so that warm
// pods can be adopted and scale-down can choose which pods go.
//
// One reconcile of "namespace/name":
//   1. renders the runtime configuration from the Function and its Triggers
//      into the ConfigMap "<name>-sluice-config" (owned by the Function);
//   2. builds the replica pod (pod_template) and its template hash;
//   3. desired = spec.replicas when set (autoscaling paused), else the
//      autoscaler's status.desiredReplicas clamped to [minReplicas, maxReplicas];
//   4. unless the Expectations of earlier creates/deletes are still unmet
//      (the cache lags), plans with planReplicas and carries the plan out:
//      asks removed replicas to drain, deletes them with their grace period,
//      adopts ready warm pods of the Function's pool (relabel + owner
//      reference, then an authenticated /specialize carrying the code; a
//      failed specialization is replaced by a fresh pod), creates the rest;
//      only Functions whose code travels in the configuration (inline or
//      builtin) and that need no Secrets, env or pod overrides are adoptable;
//   5. writes status (replicas, readyReplicas, selector, triggerCount,
//      observedGeneration, conditions Ready/Active/Degraded) with a merge
//      patch that leaves the autoscaler's fields alone, and an Event per step.
// Thread-safety: reconcile() runs on the Controller's workers, never twice at
// once for one key; the caches and clients are thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controller/expectations.h"
#include "controller/reconciler.h"
#include "controllers/function/control_token.h"
#include "controllers/function/replica_control.h"
#include "controllers/function/replica_plan.h"
#include "kube/informer.h"
#include "kube/resource_client.h"
#include "spec/runtime_config_render.h"

namespace sluice::controllers {

struct FunctionControllerOptions {
  std::string runtimeImage;     // replicas' image when a Function sets no spec.image
  int defaultWarmPoolSize = 0;  // when a Function sets no spec.scaling.warmPool.size
  std::string fieldManager = "sluice-operator";
};

// Warm pods a Function may adopt, and what /specialize must carry for it.
struct WarmCandidates {
  std::vector<nlohmann::json> pods;  // ready warm pods of the Function's pool, oldest first
  std::string configuration;         // the runtime configuration with the code inside
};

// The caches the controller reads (each an informer's).
struct FunctionControllerCaches {
  const kube::ObjectCache& functions;
  const kube::ObjectCache& triggers;
  const kube::ObjectCache& pods;  // Sluice's pods: replicas and warm pods
};

class FunctionController final : public controller::Reconciler {
 public:
  FunctionController(FunctionControllerOptions options, kube::ResourceClient& client, FunctionControllerCaches caches,
                     controller::Expectations& expectations, controller::EventRecorder& events, ControlTokens& tokens,
                     ReplicaControl* replicas, Clock& clock);

  controller::ReconcileResult reconcile(const std::string& key) override;

  // The number of replicas a Function asks for now (see step 3 above).
  static int desiredReplicas(const nlohmann::json& function);
  // Keys of the Functions a Trigger refers to (for Controller::watchMapped).
  static std::vector<std::string> functionsOfTrigger(const nlohmann::json& trigger);

 private:
  struct Outcome {
    int adopted = 0;
    int created = 0;
    int removed = 0;
    int replaced = 0;
    std::string failure;  // the first API error of this pass
  };

  Status ensureConfigMap(const nlohmann::json& function, const std::string& name, const nlohmann::json& config);
  Outcome carryOut(const std::string& key, const nlohmann::json& function, const nlohmann::json& podTemplate,
                   const ReplicaPlan& plan, const std::map<std::string, nlohmann::json>& podsByName,
                   const WarmCandidates& warm);
  // Takes over a warm pod (labels + owner reference, guarded by its resourceVersion) and specializes it.
  Status adopt(const std::string& key, const nlohmann::json& podTemplate, const nlohmann::json& warmPod,
               const std::string& configuration);
  WarmCandidates warmCandidates(const nlohmann::json& function, const spec::RenderedConfig& rendered) const;
  Status writeStatus(const nlohmann::json& function, const nlohmann::json& status);
  void recordSteps(const nlohmann::json& function, const Outcome& outcome, int desired);

  FunctionControllerOptions options_;
  kube::ResourceClient& client_;
  FunctionControllerCaches caches_;
  controller::Expectations& expectations_;
  controller::EventRecorder& events_;
  ControlTokens& tokens_;
  ReplicaControl* replicas_;
  Clock& clock_;

  std::mutex mu_;
  std::map<std::string, std::string> appliedConfig_;  // key -> ConfigMap content last written
};

}  // namespace sluice::controllers
