#include "autoscaler/autoscaler_metrics.h"

namespace sluice::autoscaler {

namespace {

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25,  0.5,   1,    2.5,   5,    10};
  return buckets;
}

}  // namespace

AutoscalerMetrics::AutoscalerMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      scalerValue_(prometheus::BuildGauge()
                       .Name("sluice_autoscaler_scaler_value")
                       .Help("Last metric value read by each scaler")
                       .Register(*registry_)),
      scalerLatency_(prometheus::BuildHistogram()
                         .Name("sluice_autoscaler_scaler_latency_seconds")
                         .Help("Time to read one scaler")
                         .Register(*registry_)),
      scalerErrors_(prometheus::BuildCounter()
                        .Name("sluice_autoscaler_scaler_errors_total")
                        .Help("Scaler reads that failed")
                        .Register(*registry_)),
      arrivalRate_(prometheus::BuildGauge()
                       .Name("sluice_autoscaler_arrival_rate")
                       .Help("Measured events per second arriving at each scaler's source")
                       .Register(*registry_)),
      perReplicaRate_(prometheus::BuildGauge()
                          .Name("sluice_autoscaler_per_replica_rate")
                          .Help("Measured events per second one working replica processes")
                          .Register(*registry_)),
      desiredReplicas_(prometheus::BuildGauge()
                           .Name("sluice_autoscaler_desired_replicas")
                           .Help("Replicas the autoscaler asks for")
                           .Register(*registry_)),
      decisions_(prometheus::BuildCounter()
                     .Name("sluice_autoscaler_scale_decisions_total")
                     .Help("Replica count changes by direction and reason")
                     .Register(*registry_)),
      loopLatency_(prometheus::BuildHistogram()
                       .Name("sluice_autoscaler_loop_latency_seconds")
                       .Help("Time of one autoscaler round over all Functions")
                       .Register(*registry_)
                       .Add({}, latencyBuckets())) {}

void AutoscalerMetrics::recordScalerRead(const std::string& function, const std::string& scaler,
                                         double latencySeconds) {
  scalerLatency_.Add({{"function", function}, {"scaler", scaler}}, latencyBuckets()).Observe(latencySeconds);
}

void AutoscalerMetrics::recordDecision(const std::string& function, const ScaleDecision& decision) {
  for (const MetricResult& metric : decision.metrics) {
    prometheus::Labels labels{{"function", function}, {"scaler", metric.name}};
    if (metric.value) {
      scalerValue_.Add(labels).Set(*metric.value);
      scalerErrors_.Add(labels);  // from 0, so rate() sees the scaler before its first error
    } else {
      scalerErrors_.Add(labels).Increment();
    }
    if (metric.arrivalRate) arrivalRate_.Add(labels).Set(*metric.arrivalRate);
    if (metric.perReplicaRate) perReplicaRate_.Add(labels).Set(*metric.perReplicaRate);
  }
  desiredReplicas_.Add({{"function", function}}).Set(decision.desiredReplicas);
  if (decision.direction != ScaleDirection::kNone) {
    decisions_
        .Add({{"function", function},
              {"direction", scaleDirectionName(decision.direction)},
              {"reason", decision.reason}})
        .Increment();
  }
}

void AutoscalerMetrics::recordLoop(double latencySeconds) { loopLatency_.Observe(latencySeconds); }

}  // namespace sluice::autoscaler
