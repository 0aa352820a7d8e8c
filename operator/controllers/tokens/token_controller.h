// TokenController: keeps each namespace's replica tokens (the Secret
// sluice-control-token, platform/kube/control_token.h) in shape, on the leader:
// a deleted Secret is recreated with the tokens the running replicas hold, a
// rotation asked by annotation or due by schedule is done, a new invoke
// master key is followed. Keys are namespaces, one for every namespace with a
// Function; each is looked at again every `resync` so a deletion is undone
// within that time, no Secret watch needed (a Secret informer would need
// list/watch on every Secret of the cluster). Thread-safe (one reconcile per
// namespace at a time, the Controller's guarantee).
#pragma once

#include <string>

#include "common/clock.h"
#include "reconcile/reconciler.h"
#include "platform/kube/control_token.h"

namespace sluice::controllers {

class TokenController final : public reconcile::Reconciler {
 public:
  TokenController(platform::ControlTokens& tokens, Clock::Duration resync) : tokens_(tokens), resync_(resync) {}

  reconcile::ReconcileResult reconcile(const std::string& ns) override;

 private:
  platform::ControlTokens& tokens_;
  const Clock::Duration resync_;
};

}  // namespace sluice::controllers
