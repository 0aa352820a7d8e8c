// DecisionEngine: turns one Function's metric readings into a desired replica count.
//
// Pure and deterministic: the only inputs are the readings passed to decide(),
// the ScalingPolicy and the Clock (tests and the simulator pass a fake one). It
// keeps the little history HPA keeps (recent recommendations for the
// stabilization windows, recent scale changes for the rate rules) plus the last
// time any metric showed work (for cooldown), consecutive scaler failures (for
// fallback) and the end of the current burst.
//
// Rules, in order (see ARCHITECTURE.md "Scaling semantics"):
//   pause (pinned / paused) > per-metric desired (ceil(value/target), or in rate
//   mode with measured rates ceil(arrival/per-replica rate + backlog/(per-replica
//   rate x drainTargetSeconds)) capped at the partitions; CPU by
//   utilization with 10% tolerance; windowed metrics by their time-weighted
//   mean over the stable window, as Knative's KPA) > max over metrics > activation at zero >
//   burst (entered when the panic window's mean asks for thresholdPercent of the
//   current count; then that count at once, never scaling down while it lasts) > stabilization
//   windows > rate rules > [min, max] > 1→0 only after cooldownSeconds idle >
//   pausedScaleIn / pausedScaleOut.
// Thread-compatible: one engine per Function, called from one loop at a time.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autoscaler/metric_observation.h"
#include "autoscaler/scaling_policy.h"
#include "common/clock.h"

namespace sluice::autoscaler {

enum class ScaleDirection { kNone, kUp, kDown };
const char* scaleDirectionName(ScaleDirection direction);  // "none", "up", "down"

// Per-metric outcome, for status.metrics and the scaler gauges.
struct MetricResult {
  std::string name;
  std::optional<double> value;
  int desiredReplicas = 0;
  bool active = false;
  int consecutiveFailures = 0;
  std::string error;
  // Windowed metrics: the means over the stable and panic windows the counts came from.
  std::optional<double> stableAverage;
  std::optional<double> panicAverage;
  // The measured rates the observation carried, and whether the rate rule made the count.
  std::optional<double> arrivalRate;
  std::optional<double> perReplicaRate;
  std::optional<double> coldStartSeconds;
  bool rateRule = false;
};

struct ScaleDecision {
  int currentReplicas = 0;
  int desiredReplicas = 0;
  // The max over metrics before windows, rate rules and clamps.
  int recommendedReplicas = 0;
  // Generic pods to keep ready besides the replicas (warmPool).
  int warmPoolReplicas = 0;
  ScaleDirection direction = ScaleDirection::kNone;
  // One CamelCase word for Events and the decisions metric, e.g. "Activation",
  // "Metrics", "Burst", "Stabilizing", "CooldownElapsed", "Fallback", "Pinned".
  std::string reason;
  std::string message;
  bool active = false;
  bool burst = false;
  bool fallback = false;
  // The count is the user's (pinned or paused): nothing scales on these readings.
  bool held = false;
  std::optional<Clock::TimePoint> lastActiveTime;
  // When the loop should call decide() again: the activation interval at zero,
  // otherwise pollingIntervalSeconds (or the burst window when shorter, or a
  // tenth of drainTargetSeconds, at least 1 s, when the rate rule decided).
  Clock::Duration nextCheckAfter{};
  std::vector<MetricResult> metrics;
};

class DecisionEngine {
 public:
  // `policy` must have passed validateScalingPolicy(). The clock must outlive the engine.
  DecisionEngine(ScalingPolicy policy, const Clock& clock);

  // Replaces the policy (the Function was edited); history is kept.
  void setPolicy(ScalingPolicy policy) { policy_ = std::move(policy); }
  const ScalingPolicy& policy() const { return policy_; }

  // One round: `currentReplicas` is what the platform runs now.
  ScaleDecision decide(int currentReplicas, const std::vector<MetricObservation>& metrics);

 private:
  struct Recommendation {
    Clock::TimePoint at;
    int replicas;
  };
  struct ScaleChange {
    Clock::TimePoint at;
    int delta;
  };
  // Records a windowed metric's reading; fills the result's window means and
  // returns the counts they ask for (stable, panic).
  std::pair<int, int> windowedDesired(const MetricObservation& metric, int current, Clock::TimePoint now,
                                      MetricResult& result);

  // What the metrics ask for, before the policy's rules.
  struct MetricsVerdict {
    int recommended = 0;  // windowed metrics by their stable-window mean
    int panic = 0;        // windowed metrics by their panic-window mean: the spike test
    int instant = 0;      // every metric by its reading alone: waking from zero
    bool active = false;
    bool holdForErrors = false;  // an erroring scaler below its fallback threshold
    bool fallbackActive = false;
    std::string why;           // "<metric> asks for N", or "no metrics"
    bool rateRule = false;     // a metric's count came from the rate rule
    int coldStartSeconds = 0;  // the longest measured cold start among the rate rule's metrics
  };
  // A count with the reason and message the decision reports.
  struct Step {
    int desired = 0;
    std::string reason;
    std::string message;
  };

  // Phases of decide(): read the metrics, then the rules from zero or above it, then the bounds.
  MetricsVerdict readMetrics(int current, const std::vector<MetricObservation>& metrics, ScaleDecision& decision);
  Step fromZero(const MetricsVerdict& verdict, Clock::TimePoint now);
  Step aboveZero(int current, const MetricsVerdict& verdict, Clock::TimePoint now);
  // 1 -> 0 after the cooldown, then min/maxReplicas.
  Step bound(int current, const MetricsVerdict& verdict, Step step, Clock::TimePoint now) const;
  ScaleDecision finish(ScaleDecision decision, int current, Step step, Clock::TimePoint now);
  // The metric's count by the rate rule (rate mode, rates measured) or its own rule.
  int desiredFor(const MetricObservation& metric, int current, MetricResult& result);
  // How long burst mode lasts after a spike.
  int holdSeconds(bool rateRule) const;
  void startBurst(Clock::TimePoint now, bool rateRule);
  int stabilize(int current, int recommended, Clock::TimePoint now, int downWindowSeconds);
  long long replicasAtPeriodStart(int current, const ScalingRule& rule, Clock::TimePoint now) const;
  int scaleUpLimit(int current, Clock::TimePoint now) const;
  int scaleDownLimit(int current, Clock::TimePoint now) const;
  void prune(Clock::TimePoint now);
  Clock::Duration nextCheckAfter(int replicas, bool rateRule) const;

  ScalingPolicy policy_;
  const Clock& clock_;
  std::deque<Recommendation> recommendations_;
  std::deque<ScaleChange> changes_;
  std::map<std::string, int> failures_;
  // Windowed metrics' recent readings (time, value), oldest first.
  std::map<std::string, std::deque<std::pair<Clock::TimePoint, double>>> samples_;
  // Starts at construction: an engine that just started has not seen idleness yet.
  Clock::TimePoint lastActive_;
  // Burst mode: since when (the last spike) and until when it holds the count.
  std::optional<Clock::TimePoint> burstSince_;
  std::optional<Clock::TimePoint> burstUntil_;
  // The backlogs the rate rule counted at this round and at the last scale-down, and when the count last
  // changed and last went down (see kRebalanceSettleSeconds in the .cpp).
  std::map<std::string, double> backlogs_;
  std::map<std::string, double> backlogsAtScaleDown_;
  std::optional<Clock::TimePoint> changedAt_;
  std::optional<Clock::TimePoint> scaledDownAt_;
};

}  // namespace sluice::autoscaler
