#include "api/pods.h"

#include "common/tokens.h"

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

bool controlPortServesTls(const json& pod) {
  for (const json& container : pod.value("/spec/containers"_json_pointer, json::array())) {
    if (container.value("name", "") != "runtime") continue;
    for (const json& env : container.value("env", json::array())) {
      if (env.value("name", "") == kControlTlsKeyEnv) return true;
    }
  }
  return false;
}

std::string controlServerName(const std::string& ns) { return "sluice-replica." + ns; }

}  // namespace sluice::api
