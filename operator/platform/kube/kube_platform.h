// KubePlatform: a Function's replicas as pods through the apiserver (the `kube`
// Platform; see platform/platform.h). Pods are managed directly, as the
// ReplicaSet controller does, so warm pods can be adopted and scale-down can
// choose which pods go.
//
// One apply() of "namespace/name":
//   1. builds the replica pod (pod_template) and its template hash, and writes
//      the rendered configuration into the ConfigMap "<name>-sluice-config"
//      (owned by the Function);
//   2. makes sure the namespace's control token exists (replicas read it at start);
//   3. checks the Expectations of earlier creates/deletes, then reads the pods
//      from the cache (in that order: see apply()); unless they are still unmet
//      (the cache lags), plans with planReplicas and carries the plan out: asks
//      removed replicas to drain, deletes them with their grace period, adopts
//      ready warm pods of the Function's pool (relabel + owner reference, then
//      an authenticated /specialize carrying the code; a failed specialization
//      is replaced by a fresh pod), creates the rest under the lowest free
//      "<name>-<ordinal>" names (so a create that lands late collides with its
//      repeat instead of making a surplus pod). A warm pod is the Function's
//      own pod less its configuration (buildWarmPod): Secrets, env,
//      resources, pod settings, a code ConfigMap or image are already in it,
//      so every Function can adopt from a pool of its pod's shape.
// The warm pods themselves are kept by the WarmPoolController.
// Thread-safety: apply() runs on the FunctionController's workers, never twice
// at once for one key; the caches and clients are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "platform/kube/control_token.h"
#include "platform/kube/pod_template.h"
#include "platform/kube/replica_control.h"
#include "platform/platform.h"
#include "platform/replica_plan.h"
#include "reconcile/event_recorder.h"
#include "reconcile/expectations.h"

namespace sluice::platform {

struct KubePlatformOptions {
  std::string runtimeImage;       // replicas' image when a Function sets no spec.image
  int defaultWarmPoolSize = 0;    // when a Function sets no spec.scaling.warmPool.size
  DefaultMemory defaultMemory{};  // of pods whose Function declares no memory
  std::string fieldManager = "sluice-operator";
  const Clock* clock = &realClock();  // times the adoption trace; outlives the platform
  // Told of each apply's new replicas: (namespace, warm pool of the Function's pod shape, new
  // replicas, how many of them adopted a warm pod), to size the pools by demand (WarmPoolDemand).
  std::function<void(const std::string& ns, const std::string& pool, int starts, int warm)> onStarts = nullptr;
};

// The caches the platform reads (each an informer's).
struct KubePlatformCaches {
  const kube::ObjectCache& functions;
  const kube::ObjectCache& pods;  // Sluice's pods: replicas and warm pods
};

class KubePlatform final : public Platform {
 public:
  // `replicas` may be null: no drains, no adoption, no invocations.
  KubePlatform(KubePlatformOptions options, kube::ResourceClient& client, KubePlatformCaches caches,
               reconcile::Expectations& expectations, reconcile::EventRecorder& events, ControlTokens& tokens,
               ReplicaControl* replicas);

  Result<ApplyOutcome> apply(const ReplicaSpec& spec) override;
  // Its pods and ConfigMap go with the Function (owner references, garbage collector).
  void forget(const std::string& key) override;
  ReplicaCounts counts(const std::string& key) const override;
  // To a Ready, not-terminating replica pod with an IP; returns "pod NAME".
  Result<std::string> invoke(const std::string& key, const std::string& trigger, const std::string& eventType,
                             const std::string& body) override;

 private:
  // Warm pods a Function may adopt, and what /specialize must carry for it.
  struct WarmCandidates {
    std::string pool;                  // the pool of the Function's pod shape
    std::vector<nlohmann::json> pods;  // ready warm pods of the Function's pool, oldest first
    std::string configuration;         // the runtime configuration with the code inside
    // When apply() began: adoptions log how far into the reconcile each step came (the adoption trace).
    Clock::TimePoint applyBegan;
  };

  // A Function's pod template as adoption patches it onto a warm pod, and as a new pod is created
  // (with the credential annotations of ControlTokens::podAnnotations).
  struct PodTemplates {
    const nlohmann::json& adopted;
    const nlohmann::json& created;
  };

  // The pods a Function (by uid) controls, from the cache.
  std::vector<nlohmann::json> podsOf(const std::string& uid) const;
  Status ensureConfigMap(const nlohmann::json& function, const std::string& name, const nlohmann::json& config);
  void carryOut(const std::string& key, const nlohmann::json& function, const PodTemplates& templates,
                const ReplicaPlan& plan, const std::map<std::string, nlohmann::json>& podsByName,
                const WarmCandidates& warm, ApplyOutcome& outcome);
  // Creates `count` replica pods under the lowest free names (replicaPodName).
  void createReplicas(const std::string& key, const nlohmann::json& function, const nlohmann::json& podTemplate,
                      int count, ApplyOutcome& outcome);
  // Takes over a warm pod (labels + owner reference, guarded by its resourceVersion) and specializes it.
  Status adopt(const std::string& key, const nlohmann::json& podTemplate, const nlohmann::json& warmPod,
               const WarmCandidates& warm);
  // `podTemplate` is the Function's replica pod (buildReplicaPod with `configMapName`).
  WarmCandidates warmCandidates(const nlohmann::json& function, const nlohmann::json& podTemplate,
                                const std::string& configMapName, const spec::RenderedConfig& rendered,
                                const NamespaceTokens& tokens) const;

  KubePlatformOptions options_;
  kube::ResourceClient& client_;
  KubePlatformCaches caches_;
  reconcile::Expectations& expectations_;
  reconcile::EventRecorder& events_;
  ControlTokens& tokens_;
  ReplicaControl* replicas_;

  std::mutex mu_;
  std::map<std::string, std::string> appliedConfig_;  // key -> ConfigMap content last written
  // key -> replica pod names held by pods the Function does not control and the cache does not show
  std::map<std::string, std::set<std::string>> foreignNames_;
};

}  // namespace sluice::platform
