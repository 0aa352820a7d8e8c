// Helpers for the status the controllers write and read: Kubernetes
// conditions (keeping lastTransitionTime while a condition's status holds),
// RFC 3339 timestamps, and a pod's Ready condition. Pure functions.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice::controllers {

// A condition list entry; lastTransitionTime is taken from `previousConditions`
// when that list has the same type with the same status, else it is `now`.
nlohmann::json condition(const nlohmann::json& previousConditions, const std::string& type, bool status,
                         const std::string& reason, const std::string& message, long long observedGeneration,
                         const std::string& now);

// "2026-11-23T22:48:48Z"
std::string rfc3339(std::chrono::system_clock::time_point time);
// The epoch when `text` is not such a timestamp.
std::chrono::system_clock::time_point parseRfc3339(const std::string& text);

// The pod's Ready condition is True.
bool podReady(const nlohmann::json& pod);

}  // namespace sluice::controllers
