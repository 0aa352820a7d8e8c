#include "controllers/autoscaler/autoscaler_loop.h"

#include "api/pods.h"
#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "controllers/function/function_controller.h"
#include "controllers/trigger/cron_firer.h"
#include "http/http_client.h"

namespace sluice::controllers {

bool autoscalerNeedsRound(const kube::Json& previous, const kube::Json& current) {
  const kube::Json::json_pointer deletion("/metadata/deletionTimestamp");
  if (previous.contains(deletion) != current.contains(deletion)) return true;
  if (!reconcile::generationChanged(previous, current)) return false;
  // Only a pinned count changed (spec.replicas set before and after): the loop's answer is not
  // used while it is pinned, and measuring now (a broker's management API, say) would only run
  // beside the new replica's start. Its own schedule measures the new spec later.
  const kube::Json::json_pointer replicas("/spec/replicas");
  if (previous.contains(replicas) && current.contains(replicas)) {
    kube::Json before = previous.value("spec", kube::Json::object());
    kube::Json after = current.value("spec", kube::Json::object());
    before.erase("replicas");
    after.erase("replicas");
    if (before == after) return false;
  }
  return true;
}

namespace {

// The Function's Ready, not-terminating replica pods that have an IP.
std::vector<kube::ObjectPtr> readyReplicas(const kube::ObjectCache& pods, const std::string& ns,
                                           const std::string& function) {
  // By the Function's label, not the namespace: with 1,000 Functions in one
  // namespace, walking its pods for each of the 500 Kafka lag readings every
  // 15 s was 65 % of the operator's idle CPU (bench/scale, N = 1,000).
  std::vector<kube::ObjectPtr> ready;
  for (const kube::ObjectPtr& pod : pods.byLabel(api::kFunctionLabel, function)) {
    if (pod->value("/metadata/namespace"_json_pointer, std::string()) != ns ||
        pod->value("/metadata/labels"_json_pointer / api::kRoleLabel, std::string()) != "replica")
      continue;
    if (pod->value("/status/podIP"_json_pointer, std::string()).empty() ||
        pod->contains("/metadata/deletionTimestamp"_json_pointer) || !api::podReady(*pod))
      continue;
    ready.push_back(pod);
  }
  return ready;
}

}  // namespace

std::vector<std::string> replicaMetricsUrls(const kube::ObjectCache& pods, const std::string& ns,
                                            const std::string& function) {
  std::vector<std::string> urls;
  for (const kube::ObjectPtr& pod : readyReplicas(pods, ns, function)) {
    const std::string ip = pod->value("/status/podIP"_json_pointer, std::string());
    const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    const char* scheme = api::controlPortServesTls(*pod) ? "https://" : "http://";
    urls.push_back(scheme + host + ":" + std::to_string(api::kControlPort) + "/metrics");
  }
  return urls;
}

std::vector<std::string> replicaPodNames(const kube::ObjectCache& pods, const std::string& ns,
                                         const std::string& function) {
  std::vector<std::string> names;
  for (const kube::ObjectPtr& pod : readyReplicas(pods, ns, function)) {
    names.push_back(pod->value("/metadata/name"_json_pointer, std::string()));
  }
  return names;
}

AutoscalerLoop::AutoscalerLoop(reconcile::Manager& manager, kube::Informer& functions, kube::Informer& triggers,
                               reconcile::EventRecorder& events, std::shared_ptr<prometheus::Registry> registry,
                               Clock& clock, std::unique_ptr<ScalerFactory> factory,
                               reconcile::ControllerMetrics* controllerMetrics, kube::Informer* pods,
                               std::function<std::vector<std::string>()> gatewayLoadsUrls,
                               TriggerScalerFactoryOptions factoryOptions, AutoscalerActivationOptions activation)
    : factory_(std::move(factory)) {
  const uint64_t maxResponseBytes = factoryOptions.maxResponseBytes;
  if (!factory_) {
    TriggerScalerFactoryOptions options = std::move(factoryOptions);
    if (pods) {
      options.replicaMetricsUrls = [&cache = pods->cache()](const std::string& ns, const std::string& function) {
        return replicaMetricsUrls(cache, ns, function);
      };
      options.replicaPodNames = [&cache = pods->cache()](const std::string& ns, const std::string& function) {
        return replicaPodNames(cache, ns, function);
      };
    }
    options.cronSettledBefore = cronSettledBeforeIn(triggers.cache());
    options.gatewayLoadsUrls = gatewayLoadsUrls;
    options.functionConcurrency = functionConcurrencyIn(functions.cache());
    factory_ = std::make_unique<TriggerScalerFactory>(manager.client(), http::makeCppRestHttpClient(), clock, options);
  }
  if (registry) metrics_ = std::make_unique<autoscaler::AutoscalerMetrics>(std::move(registry));
  AutoscaleReconcilerOptions reconcilerOptions;
  reconcilerOptions.atZeroCheckInterval = activation.atZeroCheckInterval;
  reconciler_ = std::make_unique<AutoscaleReconciler>(reconcilerOptions, manager.client(),
                                                      AutoscaleCaches{functions.cache(), triggers.cache()}, *factory_,
                                                      events, metrics_.get(), clock);
  auto controller = std::make_unique<reconcile::Controller>(
      reconcile::ControllerOptions{"autoscaler", kAutoscalerWorkers, controllerMetrics, manager.ownership()},
      *reconciler_, clock);
  controller->watchFor(functions, autoscalerNeedsRound);
  controller->watchMapped(triggers, &FunctionController::functionsOfTrigger);
  if (activation.feed && gatewayLoadsUrls) {
    ActivationWatcherOptions watcherOptions;
    watcherOptions.gatewayLoadsUrls = std::move(gatewayLoadsUrls);
    watcherOptions.waitSeconds = activation.feedWait;
    watcher_ = std::make_unique<ActivationWatcher>(
        watcherOptions, http::withResponseLimit(http::makeCppRestHttpClient(), maxResponseBytes), clock,
        [reconciler = reconciler_.get(), queue = controller.get()](const std::string& key) {
          reconciler->wake(key);
          queue->enqueue(key);
        });
    watcher_->start();
  }
  manager.add(std::move(controller));
}

AutoscalerLoop::~AutoscalerLoop() = default;

}  // namespace sluice::controllers
