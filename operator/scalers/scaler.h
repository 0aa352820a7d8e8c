// Scaler: one source of a scaling metric (Kafka lag, queue depth, object
// count, CPU, a cron window, a PromQL query).
//
// Every implementation answers the same three things per round: the metric
// value, whether there is work (activation), or an error. The autoscaler turns
// readings into MetricObservations for the DecisionEngine with observe().
// Implementations are not required to be thread-safe: the autoscaler loop calls
// read() on one scaler from one thread at a time.
#pragma once

#include <chrono>
#include <optional>

#include <string>

#include "autoscaler/metric_observation.h"
#include "common/status.h"

namespace sluice::scalers {

// How long an HTTP-based scaler waits for one answer: bounds how long one slow
// source can hold its Function's round.
inline constexpr std::chrono::seconds kHttpTimeout{5};

struct ScalerReading {
  double value = 0;
  // Work is waiting (value above the activation threshold, or a cron window is open).
  bool active = false;
  // A floor of replicas while it holds (cron windows); 0 for the others.
  int minReplicas = 0;
  // Cumulative counters and the uncapped backlog for the rate policy, when the
  // source has them (MetricObservation's fields of the same names).
  std::optional<double> processedTotal;
  std::optional<double> busySecondsTotal;
  std::optional<int> countedReplicas;
  std::optional<double> arrivedTotal;
  std::optional<double> backlog;
  int partitions = 0;
};

// How a value maps to replicas: per-replica target and activation threshold.
struct ScalerTarget {
  autoscaler::MetricTargetType type = autoscaler::MetricTargetType::kAverageValue;
  double target = 1;
  double activationThreshold = 0;
  // Averaged by the engine over its stable and panic windows (MetricObservation::windowed).
  bool windowed = false;
};

class Scaler {
 public:
  virtual ~Scaler() = default;
  // Stable name for status, metrics and reasons, e.g. "kafka/orders".
  virtual std::string name() const = 0;
  virtual ScalerTarget target() const = 0;
  // One round against the source. Errors carry context ("kafka lag of group g: ...").
  virtual Result<ScalerReading> read() = 0;
};

// Reads the scaler once and shapes the result (or the error) for the engine.
autoscaler::MetricObservation observe(Scaler& scaler);

}  // namespace sluice::scalers
