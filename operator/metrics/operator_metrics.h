// OperatorMetrics: sluice-operator's own Prometheus series, besides the
// autoscaler's (autoscaler/autoscaler_metrics.h):
//   sluice_controller_reconciles_total{controller,result}          counter
//   sluice_controller_reconcile_duration_seconds{controller}       histogram
//   sluice_workqueue_depth{name}                                   gauge
//   sluice_workqueue_adds_total{name}                              counter
//   sluice_workqueue_retries_total{name}                           counter
//   sluice_function_cold_start_seconds{function}                   histogram
//       (a Function's desired replicas went 0 -> >=1 until its first ready replica)
//   sluice_operator_build_info{version}                            gauge (always 1)
// Per-Function replica counts, warm-pool pods and leadership are read at
// scrape time by StateCollector (state_collector.h).
// Thread-safe (prometheus-cpp metrics are; the cold-start table has a lock).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "reconcile/controller_metrics.h"

namespace sluice::metrics {

class OperatorMetrics : public reconcile::ControllerMetrics {
 public:
  OperatorMetrics(std::shared_ptr<prometheus::Registry> registry, const std::string& version, Clock& clock);

  void registerController(const std::string& controller) override;
  void queueAdded(const std::string& controller) override;
  void queueDepth(const std::string& controller, size_t depth) override;
  void queueRetried(const std::string& controller) override;
  void reconciled(const std::string& controller, const char* result, double seconds) override;

  // Cold starts, fed with each Function's desired and ready replica counts as
  // they change: a 0 -> >=1 step of `desired` starts the clock; the first
  // `ready` >= 1 after it stops it and observes the time. Back to 0 desired
  // before a replica was ready: nothing is observed. Only a `leading` replica
  // observes (standbys track the same changes, so one that takes over is in step).
  void functionReplicas(const std::string& function, int desired, int ready, bool leading);
  void functionDeleted(const std::string& function);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  Clock& clock_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Histogram>& reconcileDuration_;
  prometheus::Family<prometheus::Gauge>& queueDepth_;
  prometheus::Family<prometheus::Counter>& queueAdds_;
  prometheus::Family<prometheus::Counter>& queueRetries_;
  prometheus::Family<prometheus::Histogram>& coldStart_;

  struct FunctionReplicas {
    int desired = 0;
    std::optional<Clock::TimePoint> coldStartSince;
  };
  std::mutex mu_;
  std::map<std::string, FunctionReplicas> functions_;  // guarded by mu_
};

}  // namespace sluice::metrics
