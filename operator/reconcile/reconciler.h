// Reconciler: what a controller does for one key ("namespace/name"), and the
// ReconcileResult that tells the controller what to do next, with
// controller-runtime's meaning:
//   done()            forget the key's failures; nothing more to do;
//   requeueAfter(d)   come back after d (e.g. to re-check a window);
//   error(status)     retry with per-key exponential backoff;
//   terminal(status)  log it and do not retry (the spec is wrong: wait for a change).
// Reconcilers are called from several worker threads, never twice at once for one key.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::reconcile {

struct ReconcileResult {
  Clock::Duration requeueAfterDelay = Clock::Duration::zero();
  bool requeueNow = false;
  Status status;  // non-OK: failed
  bool terminal = false;

  static ReconcileResult done() { return {}; }
  static ReconcileResult requeueAfter(Clock::Duration delay) { return {delay, false, Status::ok(), false}; }
  static ReconcileResult requeue() { return {Clock::Duration::zero(), true, Status::ok(), false}; }
  static ReconcileResult error(Status status) { return {Clock::Duration::zero(), false, std::move(status), false}; }
  static ReconcileResult terminalError(Status status) {
    return {Clock::Duration::zero(), false, std::move(status), true};
  }
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual ReconcileResult reconcile(const std::string& key) = 0;
};

}  // namespace sluice::reconcile
