#include "controllers/conditions.h"

#include <ctime>

namespace sluice::controllers {

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

std::string rfc3339(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::chrono::system_clock::time_point parseRfc3339(const std::string& text) {
  std::tm tm{};
  if (strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

bool podReady(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

}  // namespace sluice::controllers
