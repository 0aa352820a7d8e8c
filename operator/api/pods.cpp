#include "api/pods.h"

namespace sluice::api {

using nlohmann::json;

bool isReservedPodKey(const std::string& key) { return key.rfind("sluice.io/", 0) == 0 || key == kManagedByLabel; }

bool isWarmPod(const json& pod) {
  return pod.value("/metadata/labels"_json_pointer / kRoleLabel, std::string()) == "warm" &&
         !pod.contains("/metadata/deletionTimestamp"_json_pointer);
}

bool podReady(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

}  // namespace sluice::api
