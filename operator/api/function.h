// Rules derived from a Function's spec and status that more than one reader
// needs (the FunctionController, the platforms, the metrics), on the JSON as
// the apiserver has it; api/v1alpha1/function.h has the same rules on the
// typed Function. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice::api {

// The number of replicas a Function asks for now: `pinned` (spec.replicas,
// autoscaling paused) when set, else the autoscaler's status.desiredReplicas
// clamped to [minReplicas, maxReplicas] (minReplicas before the autoscaler's
// first word).
int desiredReplicasFor(std::optional<int> pinned, std::optional<int> autoscalerDesired, int minReplicas,
                       int maxReplicas);

// desiredReplicasFor on a Function object.
int desiredReplicas(const nlohmann::json& function);

// spec.scaling.warmPool.size, or `defaultSize` (the operator's
// --default-warm-pool-size, Helm's runtime.warmPool.defaultSize) when unset.
int warmPoolSize(const nlohmann::json& function, int defaultSize);

// status.url of a Function with an http Trigger behind sluice-gateway, whose
// public base URL is `gatewayUrl` ("http://gw.example:8080", a trailing '/'
// or none): `<gatewayUrl>/<namespace>/<name>`; with a `domain` (the gateway's
// --domain, host and optional port) the host form
// `<scheme>://<name>.<namespace>.<domain>`, the scheme of `gatewayUrl`
// ("http" when it has none).
std::string functionUrl(const std::string& gatewayUrl, const std::string& domain, const std::string& ns,
                        const std::string& name);

}  // namespace sluice::api
