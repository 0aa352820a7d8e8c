#include "api/pods.h"

#include <initializer_list>
#include <iterator>

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

// Keeps only `keys` of `object` (an object; anything else is left alone).
void keepOnly(json& object, std::initializer_list<const char*> keys) {
  if (!object.is_object()) return;
  json kept = json::object();
  for (const char* key : keys) {
    auto it = object.find(key);
    if (it != object.end()) kept[key] = std::move(*it);
  }
  object = std::move(kept);
}

// keepOnly on every element of the array at `key` of `object`, if there is one.
void keepOnlyInEach(json& object, const char* key, std::initializer_list<const char*> keys) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return;
  for (json& element : *it) keepOnly(element, keys);
}

}  // namespace

void trimPodForCache(json& pod) {
  if (!pod.is_object()) return;
  keepOnly(pod, {"apiVersion", "kind", "metadata", "spec", "status"});
  if (auto meta = pod.find("metadata"); meta != pod.end() && meta->is_object()) {
    keepOnly(*meta, {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "labels",
                     "annotations", "ownerReferences"});
    keepOnlyInEach(*meta, "ownerReferences", {"apiVersion", "kind", "name", "uid", "controller"});
    if (auto annotations = meta->find("annotations"); annotations != meta->end() && annotations->is_object()) {
      for (auto it = annotations->begin(); it != annotations->end();) {
        it = it.key().rfind("sluice.io/", 0) == 0 ? std::next(it) : annotations->erase(it);
      }
    }
  }
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    keepOnly(*spec, {"nodeName", "containers"});
    keepOnlyInEach(*spec, "containers", {"name", "env"});
    if (auto containers = spec->find("containers"); containers != spec->end() && containers->is_array()) {
      for (json& container : *containers) keepOnlyInEach(container, "env", {"name"});  // never the values
    }
  }
  if (auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    keepOnly(*status, {"phase", "podIP", "conditions", "initContainerStatuses", "containerStatuses"});
    keepOnlyInEach(*status, "conditions", {"type", "status"});
    for (const char* statuses : {"initContainerStatuses", "containerStatuses"}) {
      keepOnlyInEach(*status, statuses, {"name", "imageID", "state", "lastState"});
    }
  }
}

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
