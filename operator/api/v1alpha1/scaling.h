// The one reader of a Function's scaling settings: spec.scaling (minReplicas,
// maxReplicas, cooldownSeconds, pollingIntervalSeconds, cpuTargetUtilization,
// scaleUp/scaleDown, burst, warmPool.size, fallback) and spec.replicas, which
// pins the count (autoscaling paused, as `kubectl scale` does), into the
// DecisionEngine's ScalingPolicy. The controllers read Functions from the
// apiserver with it, the simulator reads FUNCTION.yaml with it.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "autoscaler/scaling_policy.h"
#include "common/status.h"

namespace sluice::api::v1alpha1 {

// `spec` is a Function's spec object. Fields the CRD defaults are optional
// here too (the engine's defaults are the CRD's); errors name the field and
// value, e.g. "spec.scaling.maxReplicas: \"x\" is not an integer".
//
// Besides the CRD's fields it reads the policy knobs only a what-if run sets
// (the apiserver prunes them, --local's validator rejects them):
// HPA-style `behavior.scaleUp/scaleDown`, `targetCPUUtilizationPercentage`,
// `warmPool: N`, `activationIntervalMilliseconds`, `burst.enabled` and
// `burst.holdSeconds`.
Result<autoscaler::ScalingPolicy> scalingPolicyFromSpec(const nlohmann::json& spec);

}  // namespace sluice::api::v1alpha1
