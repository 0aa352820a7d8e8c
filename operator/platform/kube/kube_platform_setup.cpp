#include "platform/kube/kube_platform_setup.h"

#include "api/pods.h"
#include "spec/resources.h"

namespace sluice::platform {

kube::InformerOptions sluicePodsInformerOptions() {
  kube::InformerOptions options;
  options.labelSelector = api::kManagedBySelector;
  options.transform = api::trimPodForCache;
  return options;
}

namespace {

KubePlatformOptions withClock(KubePlatformOptions options, const Clock& clock) {
  options.clock = &clock;
  return options;
}

}  // namespace

KubePlatformSetup::KubePlatformSetup(reconcile::Manager& manager, KubePlatformOptions options, const std::string& ns,
                                     Clock& clock, ControlTokensOptions tokenOptions)
    : expectations(clock),
      events(manager.client(), "sluice-operator", clock),
      tokens(manager.client(), std::move(tokenOptions), clock),
      replicaControl(tokens),
      platform(withClock(std::move(options), clock), manager.client(),
               KubePlatformCaches{manager.informer(spec::kFunctions, ns).cache(),
                                  manager.informer(kube::resources::kPods, ns, sluicePodsInformerOptions()).cache()},
               expectations, events, tokens, &replicaControl) {}

}  // namespace sluice::platform
