#include "controllers/tokens/token_controller.h"

namespace sluice::controllers {

reconcile::ReconcileResult TokenController::reconcile(const std::string& ns) {
  Status status = tokens_.reconcile(ns);
  if (!status.isOk()) return reconcile::ReconcileResult::error(status);
  return reconcile::ReconcileResult::requeueAfter(resync_);
}

}  // namespace sluice::controllers
