// Kubernetes conditions in the status Sluice writes: an entry keeps its
// lastTransitionTime while the condition's status holds. Pure functions; any thread.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sluice::api {

// A condition list entry; lastTransitionTime is taken from `previousConditions`
// when that list has the same type with the same status, else it is `now`.
nlohmann::json condition(const nlohmann::json& previousConditions, const std::string& type, bool status,
                         const std::string& reason, const std::string& message, long long observedGeneration,
                         const std::string& now);

}  // namespace sluice::api
