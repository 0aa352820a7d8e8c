#include "metrics/operator_metrics.h"

namespace sluice::metrics {

namespace {

prometheus::Histogram::BucketBoundaries reconcileBuckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

// Cold starts: from a warm pod's ~100 ms to a fresh pod's tens of seconds.
prometheus::Histogram::BucketBoundaries coldStartBuckets() {
  return {0.05, 0.1, 0.15, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120};
}

}  // namespace

OperatorMetrics::OperatorMetrics(std::shared_ptr<prometheus::Registry> registry, const std::string& version,
                                 Clock& clock)
    : registry_(std::move(registry)),
      clock_(clock),
      reconciles_(prometheus::BuildCounter()
                      .Name("sluice_controller_reconciles_total")
                      .Help("Reconciles by controller and result (success, error, terminal_error, requeue, "
                            "requeue_after)")
                      .Register(*registry_)),
      reconcileDuration_(prometheus::BuildHistogram()
                             .Name("sluice_controller_reconcile_duration_seconds")
                             .Help("Time of one reconcile, by controller")
                             .Register(*registry_)),
      queueDepth_(prometheus::BuildGauge()
                      .Name("sluice_workqueue_depth")
                      .Help("Keys waiting in a controller's work queue")
                      .Register(*registry_)),
      queueAdds_(prometheus::BuildCounter()
                     .Name("sluice_workqueue_adds_total")
                     .Help("Keys added to a controller's work queue (repeats of a waiting key excluded)")
                     .Register(*registry_)),
      queueRetries_(prometheus::BuildCounter()
                        .Name("sluice_workqueue_retries_total")
                        .Help("Keys put back into a controller's work queue with rate-limited backoff")
                        .Register(*registry_)),
      coldStart_(prometheus::BuildHistogram()
                     .Name("sluice_function_cold_start_seconds")
                     .Help("Time from a Function's desired replicas leaving 0 to its first ready replica")
                     .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("sluice_operator_build_info")
      .Help("Always 1; the version label says which build runs")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
}

void OperatorMetrics::registerController(const std::string& controller) {
  // Counters start at 0, so rate() and alerts see a series before the first event.
  queueAdds_.Add({{"name", controller}});
  queueRetries_.Add({{"name", controller}});
  queueDepth_.Add({{"name", controller}});
  for (const char* result :
       {reconcile::kReconcileSuccess, reconcile::kReconcileError, reconcile::kReconcileTerminalError,
        reconcile::kReconcileRequeue, reconcile::kReconcileRequeueAfter}) {
    reconciles_.Add({{"controller", controller}, {"result", result}});
  }
}

void OperatorMetrics::queueAdded(const std::string& controller) { queueAdds_.Add({{"name", controller}}).Increment(); }

void OperatorMetrics::queueDepth(const std::string& controller, size_t depth) {
  queueDepth_.Add({{"name", controller}}).Set(static_cast<double>(depth));
}

void OperatorMetrics::queueRetried(const std::string& controller) {
  queueRetries_.Add({{"name", controller}}).Increment();
}

void OperatorMetrics::reconciled(const std::string& controller, const char* result, double seconds) {
  reconciles_.Add({{"controller", controller}, {"result", result}}).Increment();
  reconcileDuration_.Add({{"controller", controller}}, reconcileBuckets()).Observe(seconds);
}

void OperatorMetrics::functionReplicas(const std::string& function, int desired, int ready, bool leading) {
  // Every Function's histogram exists from its first sighting, at zero, so
  // increase() counts the first cold start too.
  prometheus::Histogram& histogram = coldStart_.Add({{"function", function}}, coldStartBuckets());
  std::optional<double> observed;
  {
    std::lock_guard lock(mu_);
    FunctionReplicas& state = functions_[function];
    if (state.desired == 0 && desired > 0 && ready == 0) state.coldStartSince = clock_.now();
    if (desired == 0) state.coldStartSince.reset();
    if (state.coldStartSince && ready > 0) {
      observed = std::chrono::duration<double>(clock_.now() - *state.coldStartSince).count();
      state.coldStartSince.reset();
    }
    state.desired = desired;
  }
  if (observed && leading) histogram.Observe(*observed);
}

void OperatorMetrics::functionDeleted(const std::string& function) {
  {
    std::lock_guard lock(mu_);
    functions_.erase(function);
  }
  coldStart_.Remove(&coldStart_.Add({{"function", function}}, coldStartBuckets()));
}

}  // namespace sluice::metrics
