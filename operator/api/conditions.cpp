#include "api/conditions.h"

namespace sluice::api {

using nlohmann::json;

json condition(const json& previousConditions, const std::string& type, bool status, const std::string& reason,
               const std::string& message, long long observedGeneration, const std::string& now) {
  const std::string value = status ? "True" : "False";
  std::string since = now;
  for (const json& c : previousConditions) {
    if (c.value("type", "") == type && c.value("status", "") == value) since = c.value("lastTransitionTime", now);
  }
  return {{"type", type},
          {"status", value},
          {"reason", reason},
          {"message", message},
          {"lastTransitionTime", since},
          {"observedGeneration", observedGeneration}};
}

}  // namespace sluice::api
