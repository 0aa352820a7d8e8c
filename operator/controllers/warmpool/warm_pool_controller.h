// WarmPoolController: keeps, per namespace and pod shape, a pool of runtime
// pods that are Ready but run no function yet, so that waking a Function from
// zero adopts one (KubePlatform) instead of waiting for a cold start. A warm
// pod is the Function's own replica pod without its configuration and inline
// code (buildWarmPod): Secrets, env, resources and pod settings are already in
// it, and Functions whose pods differ only in configuration share a pool. The
// pool size is the largest spec.scaling.warmPool.size among the namespace's
// Functions of that pool, or with a WarmPoolDemand the size it computes from
// the starts of the pool's Functions (that largest size then a floor; every
// Function of the namespace then has a pool); adopted pods leave the pool and are replaced,
// surplus pods go (not ready first, then newest), and pools no Function asks
// for are emptied. A pod whose control credentials went stale (ControlTokens::staleCredentials)
// is deleted and replaced; a namespace with pools is looked at again every 30 s for that. A pool that lost pods since
// the last look (an adoption) is refilled only `refillDelay` later: a pod's start (sandbox, container, interpreter)
// takes a few hundred ms of CPU, and started at once it competes with the adopted replica's specialization and first
// event, which is the wake-from-zero latency the pool is for (BENCHMARKS.md, cold start). A Function whose pod cannot
// be built (an invalid spec, which the FunctionController reports) gets no pool.
//
// Keys are namespaces. Expectations (key "warm:<namespace>") keep a lagging
// cache from creating extra pods. Thread-safety: as any Reconciler.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controllers/warmpool/warm_pool_demand.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "platform/kube/control_token.h"
#include "platform/kube/pod_template.h"
#include "reconcile/event_recorder.h"
#include "reconcile/expectations.h"
#include "reconcile/reconciler.h"

namespace sluice::controllers {

struct WarmPoolControllerOptions {
  std::string runtimeImage;                 // image of Functions that set no spec.image
  int defaultWarmPoolSize = 0;              // of Functions that set no spec.scaling.warmPool.size
  platform::DefaultMemory defaultMemory{};  // of pods whose Function declares no memory
  // How long a pool that shrank waits before it is refilled (see above).
  Clock::Duration refillDelay = std::chrono::milliseconds(500);
  // Sizes each pool by the starts of its Functions (null: the largest size they ask for).
  WarmPoolDemand* demand = nullptr;
};

class WarmPoolController final : public reconcile::Reconciler {
 public:
  WarmPoolController(WarmPoolControllerOptions options, kube::ResourceClient& client,
                     const kube::ObjectCache& functions, const kube::ObjectCache& triggers,
                     const kube::ObjectCache& pods, reconcile::Expectations& expectations,
                     platform::ControlTokens& tokens, Clock& clock);

  reconcile::ReconcileResult reconcile(const std::string& ns) override;

  static std::string expectationsKey(const std::string& ns) { return "warm:" + ns; }
  // The namespace key of a Function, Trigger or warm pod (for Controller::watchMapped).
  static std::vector<std::string> namespaceOf(const kube::Json& object);

 private:
  struct Pool {
    kube::Json pod;  // what a new member looks like
    int size = 0;    // the largest size its Functions ask for
    std::vector<kube::Json> pods;
  };
  struct Plan {
    std::vector<kube::Json> creates;
    std::vector<kube::Json> deletes;
    Clock::Duration refillWait = Clock::Duration::max();  // until the first deferred refill
  };

  // The warm pod of `function` (its Triggers from the cache), or why there is none.
  Result<kube::Json> warmPodOf(const kube::Json& function) const;
  // By pool name: what the namespace's Functions ask for and the warm pods it has.
  std::map<std::string, Pool> poolsOf(const std::string& ns) const;
  // The pods to create and delete now, and when a deferred refill is due; updates the shrink memory.
  // Pods whose credentials are stale under `tokens` are deleted and replaced.
  Plan plan(const std::string& ns, std::map<std::string, Pool>& pools, const platform::NamespaceTokens& tokens);
  // Creates (with the credential annotations of `tokens`) and deletes under expectations; the first error.
  Status carryOut(const std::string& ns, const Plan& plan, const platform::NamespaceTokens& tokens);

  WarmPoolControllerOptions options_;
  kube::ResourceClient& client_;
  const kube::ObjectCache& functions_;
  const kube::ObjectCache& triggers_;
  const kube::ObjectCache& pods_;
  reconcile::Expectations& expectations_;
  platform::ControlTokens& tokens_;
  Clock& clock_;

  // By "<namespace>/<pool>": pods the pool had at the last reconcile, and when a pool that shrank may
  // be refilled. Touched by reconcile() only, which the Controller runs for one key at a time; a
  // namespace's pools are that namespace's key.
  std::mutex mu_;
  std::map<std::string, int> lastCount_;              // guarded by mu_
  std::map<std::string, Clock::TimePoint> refillAt_;  // guarded by mu_
};

}  // namespace sluice::controllers
