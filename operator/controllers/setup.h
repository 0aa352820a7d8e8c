// Wires Sluice's controllers into a Manager: the shared informers they read,
// the predicates that decide which changes are worth a reconcile, and the
// Platform, Expectations, EventRecorder and control tokens they share with the
// platform (built first by the caller: platform/kube/kube_platform_setup.h).
// Used by sluice-operator and by the integration tests, so both run the same wiring.
// Not thread-safe: call before Manager::run(); keep the result alive as long as the Manager runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "controllers/function/function_controller.h"
#include "controllers/tokens/token_controller.h"
#include "controllers/trigger/cron_firer.h"
#include "controllers/trigger/trigger_controller.h"
#include "controllers/warmpool/warm_pool_controller.h"
#include "controllers/warmpool/warm_pool_demand.h"
#include "platform/kube/control_token.h"
#include "platform/kube/pod_template.h"
#include "platform/platform.h"
#include "reconcile/event_recorder.h"
#include "reconcile/expectations.h"
#include "reconcile/manager.h"

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace sluice::metrics {
class OperatorMetrics;
class StateCollector;
}  // namespace sluice::metrics

namespace sluice::controllers {

struct ControllersOptions {
  std::string runtimeImage;
  int workers = 4;
  std::string ns;  // watch and manage only these namespaces (comma-separated); empty: all
  // The operator's and autoscaler's Prometheus series go here (none: not exported).
  std::shared_ptr<prometheus::Registry> metricsRegistry;
  // Warm pods kept per namespace and image for Functions that set no spec.scaling.warmPool.size.
  int defaultWarmPoolSize = 0;
  // The pools' sizing by demand, which the platform's starts feed (null: fixed sizes only).
  std::shared_ptr<WarmPoolDemand> warmPoolDemand;
  // Memory of pods whose Function declares none (platform/kube/pod_template.h).
  platform::DefaultMemory defaultMemory{};
  // sluice-gateway: its public base URL (status.url of Functions with an http
  // Trigger; empty: none) and the /loads URLs of its replicas, asked each
  // autoscaling round (none: http Triggers are not measured).
  std::string gatewayUrl;
  std::string gatewayDomain;  // the gateway's --domain: status.url in the host form
  std::function<std::vector<std::string>()> gatewayLoadsUrls;
  // Follow the gateways' activation feed; how Functions at zero are checked.
  bool gatewayActivationFeed = true;
  Clock::Duration atZeroCheckInterval{};
  // Where Triggers may make the scalers connect (empty: anywhere), and the most bytes of an HTTP answer they read.
  scalers::EndpointAllowList allowedScalerEndpoints;
  uint64_t maxScalerResponseBytes = TriggerScalerFactoryOptions::kDefaultMaxScalerResponseBytes;
  // How often each namespace's token Secret is checked (recreated, rotated).
  Clock::Duration tokenResync = std::chrono::seconds(10);
  // How long a new Function's first pod waits for the Triggers applied with it
  // (FunctionController::setTriggerGrace). creationTimestamp has whole seconds,
  // so the wait is 1-2 s after the create.
  Clock::Duration newFunctionTriggerGrace = std::chrono::seconds(2);
};

// What the controllers share with the platform that runs the replicas; the caller owns it.
struct ControllersShared {
  platform::Platform& platform;
  reconcile::Expectations& expectations;  // of pod creates and deletes
  reconcile::EventRecorder& events;
  platform::ControlTokens& tokens;  // warm pods read their namespace's token
};

class AutoscalerLoop;

class Controllers {
 public:
  Controllers(reconcile::Manager& manager, const ControllersOptions& options, ControllersShared shared, Clock& clock);
  ~Controllers();

  // Series computed from the caches at scrape time (metrics/state_collector.h);
  // null without a metricsRegistry. Register it with the exposer next to the registry.
  std::shared_ptr<prometheus::Collectable> stateMetrics() const;

  // Hands a Function to the FunctionController again for a change none of its
  // informers shows: the platform's replicas moved (the local platform's
  // processes started, became ready or died; on Kubernetes a pod event does
  // this), or a Secret the platform reads for it appeared or changed (the
  // local platform puts Secrets in its processes' environment, as the kubelet
  // does). Any thread, once the Manager runs.
  void recheckFunction(const std::string& functionKey);

 private:
  struct Informers {
    kube::Informer& functions;
    kube::Informer& triggers;
    kube::Informer& pods;  // Sluice's own (platform::sluicePodsInformerOptions)
  };
  // Each adds one controller (or the metrics) to `manager`, watching what it needs.
  void addMetrics(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                  Clock& clock);
  void addFunctionController(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                             Clock& clock);
  void addWarmPoolController(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                             Clock& clock);
  void addTriggerControllers(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                             Clock& clock);
  void addTokenController(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                          Clock& clock);
  void addAutoscaler(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                     Clock& clock);

  std::unique_ptr<metrics::OperatorMetrics> operatorMetrics_;
  std::shared_ptr<metrics::StateCollector> stateMetrics_;
  ControllersShared shared_;
  std::unique_ptr<FunctionController> functions_;
  reconcile::Controller* functionQueue_ = nullptr;  // owned by the Manager
  std::unique_ptr<WarmPoolController> warmPools_;
  std::unique_ptr<TriggerController> triggers_;
  std::unique_ptr<CronFirer> cronFirer_;
  std::unique_ptr<TokenController> tokens_;
  std::unique_ptr<AutoscalerLoop> autoscaler_;
};

// A Function update needs a reconcile when its spec (generation), its status or its
// deletion changed. Status counts too: the controller skips a status write that
// equals the cached status, and a cache still holding an older status could
// otherwise leave a newer, wrong one on the server for good. Our own write costs
// one more reconcile, which finds nothing to change. The autoscaler's status.metrics
// and status.lastActiveTime do not count: at 1,000 Functions their writes alone kept
// the controller busy while nothing changed (BENCHMARKS.md, "Scale").
bool functionNeedsReconcile(const kube::Json& previous, const kube::Json& current);

// A Function update that can change the shape of its warm pods: its spec
// (generation), labels, annotations or deletion. Status writes cannot; during a
// scale-up there are several of them (readyReplicas, conditions, the
// autoscaler's), and each would otherwise re-render every pool of the namespace
// beside the adoption on the critical path.
bool functionShapeChanged(const kube::Json& previous, const kube::Json& current);

}  // namespace sluice::controllers
