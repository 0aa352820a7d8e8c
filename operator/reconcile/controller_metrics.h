// ControllerMetrics: what a Controller and its WorkQueue report while they run
// (reconciles by result and their duration, queue adds, depth and retries),
// as controller-runtime's workqueue and reconcile metrics. An interface so the
// controller layer does not depend on Prometheus; operator/metrics implements
// it. Implementations must be thread-safe: every worker and producer calls in.
#pragma once

#include <cstddef>
#include <string>

namespace sluice::reconcile {

// Outcome of one reconcile, the `result` label.
inline constexpr const char* kReconcileSuccess = "success";
inline constexpr const char* kReconcileError = "error";
inline constexpr const char* kReconcileTerminalError = "terminal_error";
inline constexpr const char* kReconcileRequeue = "requeue";
inline constexpr const char* kReconcileRequeueAfter = "requeue_after";

class ControllerMetrics {
 public:
  virtual ~ControllerMetrics() = default;
  // Called once per controller before it reports anything (series start at zero).
  virtual void registerController(const std::string& controller) = 0;
  // A key became waiting in `controller`'s queue (a dedupe hit is not an add).
  virtual void queueAdded(const std::string& controller) = 0;
  // Keys ready to hand out after the last change.
  virtual void queueDepth(const std::string& controller, size_t depth) = 0;
  // A key was put back with rate-limited backoff.
  virtual void queueRetried(const std::string& controller) = 0;
  virtual void reconciled(const std::string& controller, const char* result, double seconds) = 0;
};

}  // namespace sluice::reconcile
