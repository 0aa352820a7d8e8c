#include "controllers/autoscaler/autoscaler_loop.h"

#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "controllers/function/function_controller.h"
#include "scalers/cpprest_http_getter.h"

namespace sluice::controllers {

bool autoscalerNeedsRound(const kube::Json& previous, const kube::Json& current) {
  if (controller::generationChanged(previous, current)) return true;
  const kube::Json::json_pointer deletion("/metadata/deletionTimestamp");
  return previous.contains(deletion) != current.contains(deletion);
}

AutoscalerLoop::AutoscalerLoop(controller::Manager& manager, kube::Informer& functions, kube::Informer& triggers,
                               controller::EventRecorder& events, std::shared_ptr<prometheus::Registry> registry,
                               Clock& clock, std::unique_ptr<ScalerFactory> factory,
                               controller::ControllerMetrics* controllerMetrics)
    : factory_(std::move(factory)) {
  if (!factory_) {
    factory_ =
        std::make_unique<TriggerScalerFactory>(manager.client(), std::make_shared<scalers::CppRestHttpGetter>(), clock);
  }
  if (registry) metrics_ = std::make_unique<autoscaler::AutoscalerMetrics>(std::move(registry));
  reconciler_ = std::make_unique<AutoscaleReconciler>(AutoscaleReconcilerOptions{}, manager.client(),
                                                      AutoscaleCaches{functions.cache(), triggers.cache()}, *factory_,
                                                      events, metrics_.get(), clock);
  auto controller = std::make_unique<controller::Controller>(
      controller::ControllerOptions{"autoscaler", kAutoscalerWorkers, controllerMetrics}, *reconciler_, clock);
  controller->watchFor(functions, autoscalerNeedsRound);
  controller->watchMapped(triggers, &FunctionController::functionsOfTrigger);
  manager.add(std::move(controller));
}

AutoscalerLoop::~AutoscalerLoop() = default;

}  // namespace sluice::controllers
