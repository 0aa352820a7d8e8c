#include "api/function.h"

#include <algorithm>

namespace sluice::api {

using nlohmann::json;

int desiredReplicasFor(std::optional<int> pinned, std::optional<int> autoscalerDesired, int minReplicas,
                       int maxReplicas) {
  if (pinned) return std::max(0, *pinned);
  return std::clamp(autoscalerDesired.value_or(minReplicas), minReplicas, std::max(minReplicas, maxReplicas));
}

int desiredReplicas(const json& function) {
  // Lenient on purpose: the platforms and the metrics read any Function the
  // apiserver stored, a field of a wrong type counts as unset.
  const json& spec = function.value("spec", json::object());
  std::optional<int> pinned;
  if (spec.contains("replicas") && spec["replicas"].is_number_integer()) pinned = spec["replicas"].get<int>();
  const json& scaling = spec.value("scaling", json::object());
  std::optional<int> desired;
  if (function.contains("/status/desiredReplicas"_json_pointer)) {
    desired = function.value("/status/desiredReplicas"_json_pointer, 0);
  }
  return desiredReplicasFor(pinned, desired, scaling.value("minReplicas", 0), scaling.value("maxReplicas", 100));
}

int warmPoolSize(const json& function, int defaultSize) {
  return function.value("/spec/scaling/warmPool/size"_json_pointer, defaultSize);
}

std::string functionUrl(const std::string& gatewayUrl, const std::string& domain, const std::string& ns,
                        const std::string& name) {
  if (!domain.empty()) {
    const size_t scheme = gatewayUrl.find("://");
    return (scheme == std::string::npos ? std::string("http") : gatewayUrl.substr(0, scheme)) + "://" + name + "." +
           ns + "." + domain;
  }
  std::string base = gatewayUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + ns + "/" + name;
}

}  // namespace sluice::api
