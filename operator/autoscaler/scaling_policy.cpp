#include "autoscaler/scaling_policy.h"

#include <string>

namespace sluice::autoscaler {

ScalingDirectionBehavior defaultScaleUpBehavior() {
  return {0, {{ScalingRule::Type::kPercent, 100, 15}, {ScalingRule::Type::kPods, 4, 15}}, SelectPolicy::kMax};
}

ScalingDirectionBehavior defaultScaleDownBehavior() {
  return {300, {{ScalingRule::Type::kPercent, 100, 15}}, SelectPolicy::kMax};
}

const char* scalingModeName(ScalingMode mode) { return mode == ScalingMode::kRate ? "rate" : "backlog"; }

namespace {

Status field(const std::string& name, const std::string& problem) {
  return invalidArgument("scaling." + name + ": " + problem);
}

Status validateBehavior(const ScalingDirectionBehavior& behavior, const std::string& name) {
  if (behavior.stabilizationWindowSeconds < 0 || behavior.stabilizationWindowSeconds > 3600) {
    return field(name + ".stabilizationWindowSeconds",
                 std::to_string(behavior.stabilizationWindowSeconds) + " is outside 0..3600");
  }
  if (behavior.policies.empty() && behavior.selectPolicy != SelectPolicy::kDisabled) {
    return field(name + ".policies", "needs at least one policy unless selectPolicy is Disabled");
  }
  for (size_t i = 0; i < behavior.policies.size(); ++i) {
    const ScalingRule& rule = behavior.policies[i];
    std::string prefix = name + ".policies[" + std::to_string(i) + "]";
    if (rule.value <= 0) return field(prefix + ".value", std::to_string(rule.value) + " must be positive");
    if (rule.periodSeconds <= 0 || rule.periodSeconds > 1800) {
      return field(prefix + ".periodSeconds", std::to_string(rule.periodSeconds) + " is outside 1..1800");
    }
  }
  return Status::ok();
}

}  // namespace

int ScalingPolicy::cooldown() const {
  constexpr int kBacklogCooldownSeconds = 300;
  constexpr int kRateCooldownSeconds = 60;
  if (cooldownSeconds) return *cooldownSeconds;
  return mode == ScalingMode::kRate ? kRateCooldownSeconds : kBacklogCooldownSeconds;
}

Status validateScalingPolicy(const ScalingPolicy& policy) {
  if (policy.minReplicas < 0) return field("minReplicas", std::to_string(policy.minReplicas) + " is negative");
  if (policy.maxReplicas < 1) return field("maxReplicas", std::to_string(policy.maxReplicas) + " must be at least 1");
  if (policy.maxReplicas < policy.minReplicas) {
    return field("maxReplicas",
                 std::to_string(policy.maxReplicas) + " is below minReplicas " + std::to_string(policy.minReplicas));
  }
  if (policy.drainTargetSeconds < 1 || policy.drainTargetSeconds > 3600) {
    return field("drainTargetSeconds", std::to_string(policy.drainTargetSeconds) + " is outside 1..3600");
  }
  if (policy.cooldownSeconds && *policy.cooldownSeconds < 0) {
    return field("cooldownSeconds", std::to_string(*policy.cooldownSeconds) + " is negative");
  }
  if (policy.pollingIntervalSeconds < 1) {
    return field("pollingIntervalSeconds", std::to_string(policy.pollingIntervalSeconds) + " must be at least 1");
  }
  if (policy.activationIntervalMilliseconds < 10 || policy.activationIntervalMilliseconds > 1000) {
    return field("activationIntervalMilliseconds",
                 std::to_string(policy.activationIntervalMilliseconds) + " is outside 10..1000");
  }
  if (policy.targetCPUUtilizationPercentage && *policy.targetCPUUtilizationPercentage <= 0) {
    return field("targetCPUUtilizationPercentage",
                 std::to_string(*policy.targetCPUUtilizationPercentage) + " must be positive");
  }
  if (Status s = validateBehavior(policy.scaleUp, "behavior.scaleUp"); !s.isOk()) return s;
  if (Status s = validateBehavior(policy.scaleDown, "behavior.scaleDown"); !s.isOk()) return s;
  if (policy.warmPool < 0) return field("warmPool", std::to_string(policy.warmPool) + " is negative");
  if (policy.fallback) {
    if (policy.fallback->failureThreshold < 1) {
      return field("fallback.failureThreshold",
                   std::to_string(policy.fallback->failureThreshold) + " must be at least 1");
    }
    if (policy.fallback->replicas < 1) {
      return field("fallback.replicas", std::to_string(policy.fallback->replicas) +
                                            " must be at least 1 (a failing scaler never scales to zero)");
    }
  }
  if (policy.burst.enabled) {
    if (policy.burst.windowSeconds < 1) {
      return field("burst.windowSeconds", std::to_string(policy.burst.windowSeconds) + " must be at least 1");
    }
    if (policy.burst.thresholdPercent <= 100) {
      return field("burst.thresholdPercent", std::to_string(policy.burst.thresholdPercent) + " must exceed 100");
    }
    if (policy.burst.stableWindowSeconds < policy.burst.windowSeconds) {
      return field("burst.stableWindowSeconds", std::to_string(policy.burst.stableWindowSeconds) +
                                                    " is shorter than burst.windowSeconds " +
                                                    std::to_string(policy.burst.windowSeconds));
    }
    if (policy.burst.holdSeconds < 0) {
      return field("burst.holdSeconds", std::to_string(policy.burst.holdSeconds) + " is negative");
    }
  }
  if (policy.pause.pinnedReplicas && *policy.pause.pinnedReplicas < 0) {
    return field("pause.pinnedReplicas", std::to_string(*policy.pause.pinnedReplicas) + " is negative");
  }
  return Status::ok();
}

}  // namespace sluice::autoscaler
