#include "controllers/setup.h"

#include "controllers/function/pod_template.h"
#include "spec/resources.h"

namespace sluice::controllers {

bool functionNeedsReconcile(const kube::Json& previous, const kube::Json& current) {
  if (controller::generationChanged(previous, current)) return true;
  for (const char* field : {"/status/desiredReplicas", "/metadata/deletionTimestamp"}) {
    kube::Json::json_pointer pointer(field);
    bool had = previous.contains(pointer);
    bool has = current.contains(pointer);
    if (had != has || (has && previous[pointer] != current[pointer])) return true;
  }
  return false;
}

Controllers::Controllers(controller::Manager& manager, ControllersOptions options, Clock& clock)
    : expectations_(clock), events_(manager.client(), "sluice-operator", clock) {
  kube::Informer& functions = manager.informer(spec::kFunctions, options.ns);
  kube::Informer& triggers = manager.informer(spec::kTriggers, options.ns);
  kube::InformerOptions podOptions;
  podOptions.labelSelector = kFunctionLabel;  // only pods that carry the label at all
  kube::Informer& pods = manager.informer(kube::resources::kPods, options.ns, podOptions);

  functions_ =
      std::make_unique<FunctionController>(FunctionControllerOptions{options.runtimeImage}, manager.client(),
                                           FunctionControllerCaches{functions.cache(), triggers.cache(), pods.cache()},
                                           expectations_, events_, options.replicaControl, clock);
  auto controller = std::make_unique<controller::Controller>(controller::ControllerOptions{"function", options.workers},
                                                             *functions_, clock);
  controller->watchFor(functions, functionNeedsReconcile);
  controller->watchOwned(pods, "Function", &expectations_);
  controller->watchMapped(triggers, &FunctionController::functionsOfTrigger);
  manager.add(std::move(controller));
}

}  // namespace sluice::controllers
