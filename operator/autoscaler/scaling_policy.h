// ScalingPolicy: how one Function's replica count follows its metrics.
//
// Plain values mirroring the Function's `spec.scaling` (field names match the
// spec: minReplicas, maxReplicas, cooldownSeconds, pollingIntervalSeconds,
// targetCPUUtilizationPercentage, behavior.scaleUp/scaleDown with
// stabilizationWindowSeconds and policies, warmPool, fallback, burst, pause).
// Defaults are HPA's and KEDA's where those exist (see ANCHORS.md), except
// activation, which is checked every activationIntervalMilliseconds (≤ 1 s)
// instead of KEDA's 30 s poll. Thread-compatible values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::autoscaler {

// One rate rule: at most `value` pods (or percent of the replicas at the start
// of the period) may be added/removed within `periodSeconds`.
struct ScalingRule {
  enum class Type { kPods, kPercent };
  Type type = Type::kPods;
  int value = 0;
  int periodSeconds = 15;
};

// Which rule wins when several apply: the one allowing the largest change
// (kMax, HPA's default), the smallest (kMin), or no change at all (kDisabled).
enum class SelectPolicy { kMax, kMin, kDisabled };

struct ScalingDirectionBehavior {
  int stabilizationWindowSeconds = 0;
  std::vector<ScalingRule> policies;
  SelectPolicy selectPolicy = SelectPolicy::kMax;
};

// HPA's defaults: up without a window, max(100%, 4 pods) per 15 s.
ScalingDirectionBehavior defaultScaleUpBehavior();
// HPA's defaults: down with a 300 s window, 100% per 15 s.
ScalingDirectionBehavior defaultScaleDownBehavior();

// After `failureThreshold` consecutive errors of a scaler, that scaler asks for
// `replicas` (as KEDA's fallback); an erroring scaler never scales to zero.
struct FallbackPolicy {
  int failureThreshold = 3;
  int replicas = 1;
};

// Burst mode, as Knative's panic mode: when a metric asks for at least
// thresholdPercent of the current replicas, the engine skips the scale-up rate
// rules and, for holdSeconds after the last spike, never scales down. While
// burst mode is enabled the metrics are checked every windowSeconds.
// Windowed metrics (http requests, MetricObservation::windowed) are averaged
// as the KPA does: over stableWindowSeconds for the count they ask for, over
// windowSeconds (the panic window) for the spike test and the count while
// burst mode lasts.
struct BurstPolicy {
  bool enabled = true;
  int windowSeconds = 6;
  int thresholdPercent = 200;
  int holdSeconds = 60;
  int stableWindowSeconds = 60;
};

// Pause, as KEDA's annotations: pinnedReplicas (paused-replicas / the scale
// subresource's spec.replicas) holds an exact count; paused holds the current
// count; pausedScaleIn / pausedScaleOut block one direction.
struct PausePolicy {
  std::optional<int> pinnedReplicas;
  bool paused = false;
  bool pausedScaleIn = false;
  bool pausedScaleOut = false;
  // The count is the user's, not the metrics' (pinned or paused).
  bool holdsCount() const { return pinnedReplicas.has_value() || paused; }
};

// How a backlog metric becomes a replica count (`scaling.policy`):
// kBacklog: ceil(backlog / per-replica target), KEDA's and HPA's rule;
// kRate: ceil(arrival rate / per-replica rate + backlog / (per-replica rate x
// drainTargetSeconds)) from measured rates (MetricObservation::arrivalRate,
// perReplicaRate), with the backlog growing during a cold start counted in; the
// backlog rule while no rate is measured yet. In rate mode the scale-down
// stabilization window is at most the longer of drainTargetSeconds and the
// measured cold start: the rule itself already keeps the capacity the backlog
// needs, and a replica given back sooner than one can be started again is a
// cold start paid for a flap.
enum class ScalingMode { kBacklog, kRate };
const char* scalingModeName(ScalingMode mode);  // "backlog", "rate"

struct ScalingPolicy {
  ScalingMode mode = ScalingMode::kRate;
  // Rate mode: how long a backlog may take to drain. 2 s against the 5 s it was: on the benchmark's
  // traces it costs 0-2 % more replica-seconds and takes the p99 below keda-default's on the daily wave
  // (1.85 against 2.65 s, with cold starts of 5 s; BENCHMARKS.md, issue 19).
  int drainTargetSeconds = 2;
  int minReplicas = 0;
  int maxReplicas = 100;
  // Idle time at one replica before 1 -> 0; unset: cooldown() picks it by mode.
  std::optional<int> cooldownSeconds;
  int pollingIntervalSeconds = 15;
  // The cheap "is there any work?" check while at zero replicas.
  int activationIntervalMilliseconds = 500;
  std::optional<int> targetCPUUtilizationPercentage;
  ScalingDirectionBehavior scaleUp = defaultScaleUpBehavior();
  ScalingDirectionBehavior scaleDown = defaultScaleDownBehavior();
  // Generic pods kept ready next to the Function's replicas, so waking is fast.
  int warmPool = 0;
  std::optional<FallbackPolicy> fallback;
  BurstPolicy burst;
  PausePolicy pause;

  // cooldownSeconds if set, else KEDA's cooldownPeriod (300 s) for the backlog rule and 60 s (Knative's
  // stable window) for the rate rule. The rate rule scales to one replica when the arrivals stop; 300 s
  // more at that replica after every idle spell was most of what the bursts trace cost over the oracle
  // (2.2x; 1.7x with 60 s, at the same p99: BENCHMARKS.md, issue 19).
  int cooldown() const;
};

// Refuses inconsistent settings; the message names the field and the value,
// e.g. "scaling.maxReplicas: 2 is below minReplicas 3".
Status validateScalingPolicy(const ScalingPolicy& policy);

}  // namespace sluice::autoscaler
