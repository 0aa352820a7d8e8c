// KubePlatformSetup: the kube Platform wired over a Manager's shared
// informers, with what it shares with the controllers: the Expectations of
// pod creates and deletes, the EventRecorder, the namespaces' control tokens.
// Built by sluice-operator's main (cmd/) and the tests that run the real
// wiring, before controllers::Controllers, which takes these by reference.
// Not thread-safe to build; keep it alive as long as the Manager runs.
#pragma once

#include <string>

#include "common/clock.h"
#include "reconcile/event_recorder.h"
#include "reconcile/expectations.h"
#include "reconcile/manager.h"
#include "kube/informer.h"
#include "platform/kube/control_token.h"
#include "platform/kube/http_replica_control.h"
#include "platform/kube/kube_platform.h"

namespace sluice::platform {

// The informer of Sluice's pods (replicas and warm pods) in `ns` ("" = all):
// the platform and the controllers must ask the Manager with the same options.
kube::InformerOptions sluicePodsInformerOptions();

struct KubePlatformSetup {
  // `tokens`: the invoke master key and the control tokens' rotation period (ControlTokens).
  KubePlatformSetup(reconcile::Manager& manager, KubePlatformOptions options, const std::string& ns, Clock& clock,
                    ControlTokensOptions tokens = {});

  reconcile::Expectations expectations;
  reconcile::EventRecorder events;
  ControlTokens tokens;
  HttpReplicaControl replicaControl;
  KubePlatform platform;
};

}  // namespace sluice::platform
