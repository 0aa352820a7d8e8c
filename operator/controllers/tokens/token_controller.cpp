#include "controllers/tokens/token_controller.h"

namespace sluice::controllers {

controller::ReconcileResult TokenController::reconcile(const std::string& ns) {
  Status status = tokens_.reconcile(ns);
  if (!status.isOk()) return controller::ReconcileResult::error(status);
  return controller::ReconcileResult::requeueAfter(resync_);
}

}  // namespace sluice::controllers
