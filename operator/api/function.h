// Rules derived from a Function's spec and status that more than one reader
// needs (the FunctionController, the platforms, the metrics). Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

namespace sluice::api {

// The number of replicas a Function asks for now: spec.replicas when set
// (autoscaling paused), else the autoscaler's status.desiredReplicas clamped
// to [minReplicas, maxReplicas] (minReplicas before the autoscaler's first word).
int desiredReplicas(const nlohmann::json& function);

// spec.scaling.warmPool.size, or `defaultSize` (the operator's
// --default-warm-pool-size, Helm's runtime.warmPool.defaultSize) when unset.
int warmPoolSize(const nlohmann::json& function, int defaultSize);

}  // namespace sluice::api
