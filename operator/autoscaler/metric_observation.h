// MetricObservation: what a scaler reads in one autoscaling round and how the
// DecisionEngine is to read it. The contract between the scalers (which fill
// it) and the engine (which decides from it); values, no behaviour.
#pragma once

#include <optional>
#include <string>

namespace sluice::autoscaler {

enum class MetricTargetType {
  kAverageValue,  // desired = ceil(value / target): backlog, queue depth, object count, PromQL
  kUtilization,   // desired = ceil(current * value / target) unless within 10%: CPU percent
};

// One scaler's reading for this round. `value` is empty when the scaler failed.
struct MetricObservation {
  std::string name;  // e.g. "kafka/orders", shown in reasons and status
  MetricTargetType targetType = MetricTargetType::kAverageValue;
  double target = 1;
  // The metric shows work (activates from zero, resets cooldown) when value > this.
  double activationThreshold = 0;
  // A floor of replicas while it holds, regardless of value (cron windows).
  int minReplicas = 0;
  std::optional<double> value;
  // The scaler's own verdict on activity when it has one (Kafka's
  // excludePersistentLag counts lag the value leaves out); else value > threshold.
  std::optional<bool> active;
  // A fast-moving rate or concurrency (http requests): the engine averages it
  // over time (BurstPolicy's stable and panic windows) as Knative's KPA does,
  // instead of taking each reading as it is. Activity still follows each reading.
  bool windowed = false;
  std::string error;
};

}  // namespace sluice::autoscaler
