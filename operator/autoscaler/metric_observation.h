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

  // Throughput, for the rate policy (ScalingMode::kRate). The scaler fills the
  // counters it can read (Kafka: the consumer group's committed offsets and the
  // topics' high watermarks, summed over partitions) and `backlog`, the work
  // waiting before any per-replica cap; `partitions` bounds the replicas that
  // can work at once (0: no bound).
  std::optional<double> processedTotal;
  // With processedTotal from the replicas' own counters (summed over them):
  // the seconds their handlers ran, so capacity = processed / busy seconds.
  std::optional<double> busySecondsTotal;
  // With them: how many replicas answered (the sum's replicas). A pod can be
  // Ready before its consumer works; the ready count would then count replicas
  // that processed nothing and read the others' throughput as theirs.
  std::optional<int> countedReplicas;
  std::optional<double> arrivedTotal;
  std::optional<double> backlog;
  int partitions = 0;
  // Filled by the caller from its RateEstimator before decide(): events/s
  // arriving, events/s one working replica processes and the measured time from
  // a scale-up to a ready replica. The engine applies the rate rule only when
  // both rates are known.
  std::optional<double> arrivalRate;
  std::optional<double> perReplicaRate;
  std::optional<double> coldStartSeconds;
};

}  // namespace sluice::autoscaler
