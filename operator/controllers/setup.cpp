#include "controllers/setup.h"

#include "api/function.h"
#include "api/pods.h"
#include "controllers/autoscaler/autoscaler_loop.h"
#include "metrics/operator_metrics.h"
#include "metrics/state_collector.h"
#include "platform/kube/kube_platform_setup.h"
#include "reconcile/shards.h"
#include "sluice/version.h"
#include "spec/resources.h"

namespace sluice::controllers {

bool functionNeedsReconcile(const kube::Json& previous, const kube::Json& current) {
  if (reconcile::generationChanged(previous, current)) return true;
  const kube::Json::json_pointer deletion("/metadata/deletionTimestamp");
  if (previous.value(deletion, kube::Json()) != current.value(deletion, kube::Json())) return true;
  // The autoscaler's measurements are for people: nothing the FunctionController does depends on them.
  auto statusFor = [](const kube::Json& function) {
    kube::Json status = function.value("status", kube::Json());
    if (status.is_object()) {
      status.erase("metrics");
      status.erase("lastActiveTime");
    }
    return status;
  };
  return statusFor(previous) != statusFor(current);
}

namespace {

// A Trigger is its Function's work: the bucket of the Function it names (its own key while not in the cache).
std::function<std::string(const std::string&)> triggerShardKey(const kube::ObjectCache& triggers) {
  return [&triggers](const std::string& key) {
    const kube::ObjectPtr trigger = triggers.get(key);
    if (!trigger) return key;
    std::vector<std::string> functions = FunctionController::functionsOfTrigger(*trigger);
    return functions.empty() ? key : functions.front();
  };
}

TriggerScalerFactoryOptions scalerFactoryOptions(const ControllersOptions& options) {
  TriggerScalerFactoryOptions factory;
  factory.allowedEndpoints = options.allowedScalerEndpoints;
  factory.maxResponseBytes = options.maxScalerResponseBytes;
  return factory;
}

}  // namespace

bool functionShapeChanged(const kube::Json& previous, const kube::Json& current) {
  if (reconcile::generationChanged(previous, current)) return true;
  for (const char* field : {"/metadata/labels", "/metadata/annotations", "/metadata/deletionTimestamp"}) {
    kube::Json::json_pointer pointer(field);
    if (previous.value(pointer, kube::Json()) != current.value(pointer, kube::Json())) return true;
  }
  return false;
}

Controllers::Controllers(reconcile::Manager& manager, const ControllersOptions& options, ControllersShared shared,
                         Clock& clock)
    : shared_(shared) {
  const Informers informers{
      manager.informer(spec::kFunctions, options.ns), manager.informer(spec::kTriggers, options.ns),
      manager.informer(kube::resources::kPods, options.ns, platform::sluicePodsInformerOptions())};
  if (options.metricsRegistry) addMetrics(manager, options, informers, clock);
  addFunctionController(manager, options, informers, clock);
  addWarmPoolController(manager, options, informers, clock);
  addTriggerControllers(manager, options, informers, clock);
  addTokenController(manager, options, informers, clock);
  addAutoscaler(manager, options, informers, clock);
}

void Controllers::addMetrics(reconcile::Manager& manager, const ControllersOptions& options, const Informers& informers,
                             Clock& clock) {
  kube::Informer& functions = informers.functions;
  kube::Informer& pods = informers.pods;
  operatorMetrics_ = std::make_unique<metrics::OperatorMetrics>(options.metricsRegistry, kVersion, clock);
  stateMetrics_ = std::make_shared<metrics::StateCollector>(functions.cache(), pods.cache(),
                                                            [&manager] { return manager.isLeader(); });
  // Cold starts: every replica follows each Function's desired/ready counts; the leader observes.
  auto follow = [this, &manager](const kube::Json& function) {
    operatorMetrics_->functionReplicas(
        kube::objectKey(function), api::desiredReplicas(function),
        function.value("/status/readyReplicas"_json_pointer, 0),
        manager.sharded() ? manager.owns(kube::objectKey(function)) : manager.isLeader());
  };
  functions.addHandler(kube::EventHandler{
      follow, [follow](const kube::Json&, const kube::Json& current) { follow(current); },
      [this](const kube::Json& function) { operatorMetrics_->functionDeleted(kube::objectKey(function)); }});
}

void Controllers::addFunctionController(reconcile::Manager& manager, const ControllersOptions& options,
                                        const Informers& informers, Clock& clock) {
  kube::Informer& functions = informers.functions;
  kube::Informer& triggers = informers.triggers;
  kube::Informer& pods = informers.pods;
  reconcile::ControllerMetrics* controllerMetrics = operatorMetrics_.get();
  functions_ = std::make_unique<FunctionController>(
      manager.client(), FunctionControllerCaches{functions.cache(), triggers.cache()}, shared_.platform, shared_.events,
      clock, options.gatewayUrl, options.gatewayDomain);
  functions_->setTriggerGrace(options.newFunctionTriggerGrace);
  if (const reconcile::ShardElector* shards = manager.shards()) {
    functions_->setShardStamp([shards](const std::string& key) {
      const int count = shards->config().shards;
      return kube::Json{
          {"bucket", reconcile::shardBucket(key, count)}, {"shards", count}, {"holder", shards->config().identity}};
    });
  }
  auto controller = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"function", options.workers, controllerMetrics, manager.ownership()}, *functions_,
      clock);
  controller->watchFor(functions, functionNeedsReconcile);
  controller->watchOwned(pods, "Function", &shared_.expectations);
  controller->watchMapped(triggers, &FunctionController::functionsOfTrigger);
  // A warm pod becoming Ready may let a waiting Function adopt it.
  // (With pools sized by demand every Function has one.)
  const bool everyFunction = options.warmPoolDemand && options.warmPoolDemand->sized();
  controller->watchMapped(
      pods, [&functions, defaultSize = options.defaultWarmPoolSize, everyFunction](const kube::Json& pod) {
        std::vector<std::string> keys;
        if (!api::isWarmPod(pod)) return keys;
        const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
        for (const kube::ObjectPtr& f : functions.cache().byNamespace(ns)) {
          if (everyFunction || api::warmPoolSize(*f, defaultSize) > 0) keys.push_back(kube::objectKey(*f));
        }
        return keys;
      });
  functionQueue_ = controller.get();
  manager.add(std::move(controller));
}

void Controllers::recheckFunction(const std::string& functionKey) { functionQueue_->enqueue(functionKey); }

void Controllers::addWarmPoolController(reconcile::Manager& manager, const ControllersOptions& options,
                                        const Informers& informers, Clock& clock) {
  kube::Informer& functions = informers.functions;
  kube::Informer& triggers = informers.triggers;
  kube::Informer& pods = informers.pods;
  reconcile::ControllerMetrics* controllerMetrics = operatorMetrics_.get();
  warmPools_ = std::make_unique<WarmPoolController>(
      WarmPoolControllerOptions{options.runtimeImage, options.defaultWarmPoolSize, options.defaultMemory,
                                std::chrono::milliseconds(500), options.warmPoolDemand.get()},
      manager.client(), functions.cache(), triggers.cache(), pods.cache(), shared_.expectations, shared_.tokens, clock);
  // Keyed by namespace: one warm pool writer per namespace, the holder of the namespace's bucket.
  auto pools = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"warmpool", 1, controllerMetrics, manager.ownership()}, *warmPools_, clock);
  // A start may grow the pool of its namespace at once.
  if (options.warmPoolDemand) {
    options.warmPoolDemand->onRecord([queue = pools.get()](const std::string& ns) { queue->enqueue(ns); });
  }
  pools->watchMapped(functions, &WarmPoolController::namespaceOf, functionShapeChanged);
  pools->watchMapped(pods, &WarmPoolController::namespaceOf);
  // A Trigger's Secrets are part of its Function's warm pods.
  pools->watchMapped(triggers, &WarmPoolController::namespaceOf);
  // Warm pods have no owner, so their expectations are lowered here.
  pods.addHandler(kube::EventHandler{
      [this](const kube::Json& pod) {
        if (api::isWarmPod(pod))
          shared_.expectations.creationObserved(
              WarmPoolController::expectationsKey(pod.value("/metadata/namespace"_json_pointer, std::string())));
      },
      nullptr,
      [this](const kube::Json& pod) {
        if (pod.value("/metadata/labels"_json_pointer / api::kRoleLabel, std::string()) == "warm") {
          shared_.expectations.deletionObserved(
              WarmPoolController::expectationsKey(pod.value("/metadata/namespace"_json_pointer, std::string())));
        }
      }});
  manager.add(std::move(pools));
}

// The Trigger status controller and the cron firer.
void Controllers::addTriggerControllers(reconcile::Manager& manager, const ControllersOptions& options,
                                        const Informers& informers, Clock& clock) {
  kube::Informer& functions = informers.functions;
  kube::Informer& triggers = informers.triggers;
  reconcile::ControllerMetrics* controllerMetrics = operatorMetrics_.get();
  triggers_ = std::make_unique<TriggerController>(manager.client(), triggers.cache(), functions.cache(), clock,
                                                  tcpProbe, &shared_.events, options.allowedScalerEndpoints);
  auto triggerController = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"trigger", options.workers, controllerMetrics,
                                   manager.ownership(triggerShardKey(triggers.cache()))},
      *triggers_, clock);
  triggerController->watchFor(triggers, reconcile::generationChanged);
  // A Function appearing or going changes its Triggers' Ready condition; nothing else of it does.
  // Each Trigger reconcile reads its Secrets from the apiserver and probes the broker: on every
  // update of the Function (a replicas change and the status writes after it) that work ran beside
  // the warm-pod adoption of the Function it concerns (issue 12).
  triggerController->watchMapped(
      functions,
      [&triggers](const kube::Json& function) {
        return TriggerController::triggersOfFunction(triggers.cache(), function);
      },
      [](const kube::Json&, const kube::Json&) { return false; });
  manager.add(std::move(triggerController));

  // Cron ticks go through the operator so they fire at zero replicas. Its own
  // controller: a delivery waits on a handler and must not hold the status checks up.
  cronFirer_ = std::make_unique<CronFirer>(manager.client(), triggers.cache(), shared_.platform, shared_.events, clock);
  auto cron = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"cron", options.workers, controllerMetrics,
                                   manager.ownership(triggerShardKey(triggers.cache()))},
      *cronFirer_, clock);
  cron->watchFor(triggers, [](const kube::Json& previous, const kube::Json& current) {
    return current.contains("/spec/cron"_json_pointer) && reconcile::generationChanged(previous, current);
  });
  manager.add(std::move(cron));
}

void Controllers::addTokenController(reconcile::Manager& manager, const ControllersOptions& options,
                                     const Informers& informers, Clock& clock) {
  kube::Informer& functions = informers.functions;
  reconcile::ControllerMetrics* controllerMetrics = operatorMetrics_.get();
  // Each namespace with a Function keeps its token Secret (recreated when deleted, rotated).
  // Unsharded even when the operator is sharded: every replica follows the Secret (its writes
  // are resourceVersion-guarded, so one rotation wins) and learns a rotation made by another.
  tokens_ = std::make_unique<TokenController>(shared_.tokens, options.tokenResync);
  // Pods made with the tokens before are replaced by their Function's reconcile: ask for it now.
  shared_.tokens.onChange([this, &functions](const std::string& ns) {
    if (functionQueue_ == nullptr) return;
    for (const kube::ObjectPtr& f : functions.cache().byNamespace(ns)) functionQueue_->enqueue(kube::objectKey(*f));
  });
  auto tokenController = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"tokens", 1, controllerMetrics}, *tokens_, clock);
  // A namespace's token depends on its Functions being there, not on their status: the
  // autoscaler's status writes woke this controller for the namespace at every round (bench/scale).
  tokenController->watchMapped(
      functions,
      [](const kube::Json& function) {
        return std::vector<std::string>{function.value("/metadata/namespace"_json_pointer, std::string("default"))};
      },
      reconcile::generationChanged);
  manager.add(std::move(tokenController));
}

void Controllers::addAutoscaler(reconcile::Manager& manager, const ControllersOptions& options,
                                const Informers& informers, Clock& clock) {
  reconcile::ControllerMetrics* controllerMetrics = operatorMetrics_.get();
  // Autoscaler loop (issue 6): its own controller on the same informers; it
  // writes status.desiredReplicas, which the predicate above hands to the
  // FunctionController, and the Triggers' metricValue/active.
  TriggerScalerFactoryOptions factoryOptions = scalerFactoryOptions(options);
  factoryOptions.replicaTrustedCertificates = [&tokens = shared_.tokens] { return tokens.trustedCertificates(); };
  autoscaler_ = std::make_unique<AutoscalerLoop>(
      manager, informers.functions, informers.triggers, shared_.events, options.metricsRegistry, clock, nullptr,
      controllerMetrics, &informers.pods, options.gatewayLoadsUrls, std::move(factoryOptions),
      AutoscalerActivationOptions{options.gatewayActivationFeed, std::chrono::seconds(10),
                                  options.atZeroCheckInterval});
}

Controllers::~Controllers() = default;

std::shared_ptr<prometheus::Collectable> Controllers::stateMetrics() const { return stateMetrics_; }

}  // namespace sluice::controllers
