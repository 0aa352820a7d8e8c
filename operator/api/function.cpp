#include "api/function.h"

#include <algorithm>

namespace sluice::api {

using nlohmann::json;

int desiredReplicas(const json& function) {
  const json& spec = function.value("spec", json::object());
  if (spec.contains("replicas") && spec["replicas"].is_number_integer())
    return std::max(0, spec["replicas"].get<int>());
  const json& scaling = spec.value("scaling", json::object());
  const int minReplicas = scaling.value("minReplicas", 0);
  const int maxReplicas = scaling.value("maxReplicas", 100);
  int desired = function.value("/status/desiredReplicas"_json_pointer, minReplicas);
  return std::clamp(desired, minReplicas, std::max(minReplicas, maxReplicas));
}

int warmPoolSize(const json& function, int defaultSize) {
  return function.value("/spec/scaling/warmPool/size"_json_pointer, defaultSize);
}

}  // namespace sluice::api
