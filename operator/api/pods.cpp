#include "api/pods.h"

#include "common/tokens.h"

namespace sluice::api {

using nlohmann::json;

namespace {

// The array at `at` in `object`, or an empty one: read in place, because
// json::value would copy it, and these run for every pod on every lag
// reading (the containers of a replica pod are most of its JSON).
const json& arrayAt(const json& object, const json::json_pointer& at) {
  static const json kEmpty = json::array();
  if (!object.contains(at)) return kEmpty;
  const json& found = object.at(at);
  return found.is_array() ? found : kEmpty;
}

}  // namespace

bool isReservedPodKey(const std::string& key) { return key.rfind("sluice.io/", 0) == 0 || key == kManagedByLabel; }

bool isWarmPod(const json& pod) {
  return pod.value("/metadata/labels"_json_pointer / kRoleLabel, std::string()) == "warm" &&
         !pod.contains("/metadata/deletionTimestamp"_json_pointer);
}

bool podReady(const json& pod) {
  for (const json& c : arrayAt(pod, "/status/conditions"_json_pointer)) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

bool controlPortServesTls(const json& pod) {
  for (const json& container : arrayAt(pod, "/spec/containers"_json_pointer)) {
    if (!container.is_object() || container.value("name", "") != "runtime") continue;
    for (const json& env : arrayAt(container, "/env"_json_pointer)) {
      if (env.value("name", "") == kControlTlsKeyEnv) return true;
    }
  }
  return false;
}

std::string controlServerName(const std::string& ns) { return "sluice-replica." + ns; }

}  // namespace sluice::api
