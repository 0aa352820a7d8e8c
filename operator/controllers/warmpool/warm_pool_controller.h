// WarmPoolController: keeps, per namespace and runtime image, a pool of
// generic runtime pods that are Ready but run no function yet, so that waking
// a Function from zero adopts one (KubePlatform) instead of waiting for
// a cold start. The pool size is the largest spec.scaling.warmPool.size among
// the namespace's Functions using that image; adopted pods leave the pool and
// are replaced, surplus pods go (not ready first, then newest), and pools no
// Function asks for are emptied.
//
// Keys are namespaces. Expectations (key "warm:<namespace>") keep a lagging
// cache from creating extra pods. Thread-safety: as any Reconciler.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controller/expectations.h"
#include "controller/reconciler.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "platform/kube/control_token.h"

namespace sluice::controllers {

struct WarmPoolControllerOptions {
  std::string runtimeImage;     // image of Functions that set no spec.image
  int defaultWarmPoolSize = 0;  // of Functions that set no spec.scaling.warmPool.size
};

class WarmPoolController final : public controller::Reconciler {
 public:
  WarmPoolController(WarmPoolControllerOptions options, kube::ResourceClient& client,
                     const kube::ObjectCache& functions, const kube::ObjectCache& pods,
                     controller::Expectations& expectations, platform::ControlTokens& tokens);

  controller::ReconcileResult reconcile(const std::string& ns) override;

  static std::string expectationsKey(const std::string& ns) { return "warm:" + ns; }
  // The namespace key of a Function or warm pod (for Controller::watchMapped).
  static std::vector<std::string> namespaceOf(const kube::Json& object);

 private:
  WarmPoolControllerOptions options_;
  kube::ResourceClient& client_;
  const kube::ObjectCache& functions_;
  const kube::ObjectCache& pods_;
  controller::Expectations& expectations_;
  platform::ControlTokens& tokens_;
};

}  // namespace sluice::controllers
