// Wires Sluice's controllers into a Manager: the shared informers they read,
// the Expectations and EventRecorder they share, and the predicates that
// decide which changes are worth a reconcile. Used by sluice-operator and by
// the integration tests, so both run the same wiring.
// Not thread-safe: call before Manager::run(); keep the result alive as long as the Manager runs.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controller/expectations.h"
#include "controller/manager.h"
#include "controllers/function/control_token.h"
#include "controllers/function/function_controller.h"
#include "controllers/function/http_replica_control.h"
#include "controllers/trigger/cron_firer.h"
#include "controllers/trigger/trigger_controller.h"
#include "controllers/warmpool/warm_pool_controller.h"
#include "platform/kube/kube_platform.h"

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
  std::string ns;  // watch and manage only this namespace; empty: all
  // The operator's and autoscaler's Prometheus series go here (none: not exported).
  std::shared_ptr<prometheus::Registry> metricsRegistry;
  // Warm pods kept per namespace and image for Functions that set no spec.scaling.warmPool.size.
  int defaultWarmPoolSize = 0;
};

class AutoscalerLoop;

class Controllers {
 public:
  Controllers(controller::Manager& manager, const ControllersOptions& options, Clock& clock);
  ~Controllers();

  // Series computed from the caches at scrape time (metrics/state_collector.h);
  // null without a metricsRegistry. Register it with the exposer next to the registry.
  std::shared_ptr<prometheus::Collectable> stateMetrics() const;

 private:
  std::unique_ptr<metrics::OperatorMetrics> operatorMetrics_;
  std::shared_ptr<metrics::StateCollector> stateMetrics_;
  controller::Expectations expectations_;
  controller::EventRecorder events_;
  ControlTokens tokens_;
  HttpReplicaControl replicaControl_;
  std::unique_ptr<platform::KubePlatform> platform_;
  std::unique_ptr<FunctionController> functions_;
  std::unique_ptr<WarmPoolController> warmPools_;
  std::unique_ptr<TriggerController> triggers_;
  std::unique_ptr<CronFirer> cronFirer_;
  std::unique_ptr<AutoscalerLoop> autoscaler_;
};

// A Function update needs a reconcile when its spec (generation), its status or its
// deletion changed. Status counts too: the controller skips a status write that
// equals the cached status, and a cache still holding an older status could
// otherwise leave a newer, wrong one on the server for good. Our own write costs
// one more reconcile, which finds nothing to change.
bool functionNeedsReconcile(const kube::Json& previous, const kube::Json& current);

}  // namespace sluice::controllers
