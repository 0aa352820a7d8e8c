// Reads a Function object (sluice.io/v1alpha1, as JSON from the apiserver)
// into the DecisionEngine's ScalingPolicy: spec.scaling (minReplicas,
// maxReplicas, cooldownSeconds, pollingIntervalSeconds, cpuTargetUtilization,
// scaleUp/scaleDown, burst, warmPool.size, fallback) and spec.replicas, which
// pins the count (autoscaling paused, as `kubectl scale` does).
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "autoscaler/scaling_policy.h"
#include "common/status.h"

namespace sluice::controllers {

// Fields the CRD defaults are optional here too; errors name the field and
// value, e.g. "spec.scaling.maxReplicas: \"x\" is not an integer".
Result<autoscaler::ScalingPolicy> scalingPolicyFromFunction(const nlohmann::json& function);

}  // namespace sluice::controllers
