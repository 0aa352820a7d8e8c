// AutoscalerMetrics: the autoscaler's Prometheus series (names follow KEDA's
// operator metrics, with a sluice_autoscaler_ prefix):
//   sluice_autoscaler_scaler_value{function,scaler}            gauge
//   sluice_autoscaler_scaler_latency_seconds{function,scaler}  histogram
//   sluice_autoscaler_scaler_errors_total{function,scaler}     counter
//   sluice_autoscaler_arrival_rate{function,scaler}            gauge, events/s (once measured)
//   sluice_autoscaler_per_replica_rate{function,scaler}        gauge, events/s (once measured)
//   sluice_autoscaler_desired_replicas{function}               gauge
//   sluice_autoscaler_scale_decisions_total{function,direction,reason}  counter (changes only)
//   sluice_autoscaler_loop_latency_seconds                     histogram
// Thread-safe (prometheus-cpp metrics are); keep the Registry alive as long as this.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "autoscaler/decision_engine.h"

namespace sluice::autoscaler {

class AutoscalerMetrics {
 public:
  explicit AutoscalerMetrics(std::shared_ptr<prometheus::Registry> registry);

  void recordScalerRead(const std::string& function, const std::string& scaler, double latencySeconds);
  // Values, errors, desired replicas, and a decision count when the count changes.
  void recordDecision(const std::string& function, const ScaleDecision& decision);
  void recordLoop(double latencySeconds);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& scalerValue_;
  prometheus::Family<prometheus::Histogram>& scalerLatency_;
  prometheus::Family<prometheus::Counter>& scalerErrors_;
  prometheus::Family<prometheus::Gauge>& arrivalRate_;
  prometheus::Family<prometheus::Gauge>& perReplicaRate_;
  prometheus::Family<prometheus::Gauge>& desiredReplicas_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& loopLatency_;
};

}  // namespace sluice::autoscaler
