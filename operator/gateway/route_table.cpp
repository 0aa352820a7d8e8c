#include "gateway/route_table.h"

#include <algorithm>
#include <set>

#include "api/pods.h"
#include "kube/resource_client.h"
#include "spec/function_triggers.h"

namespace sluice::gateway {

namespace {

std::string namespaceOf(const kube::Json& object) {
  return object.value("/metadata/namespace"_json_pointer, std::string("default"));
}

// The Function's Ready, not terminating replica Pods, at their pod IP and `port`.
RouteTable::ReplicasOf replicaPods(const kube::ObjectCache& pods, int port) {
  return [&pods, port](const std::string& ns, const std::string& function) {
    std::vector<Replica> replicas;
    for (const kube::ObjectPtr& pod : pods.byNamespace(ns)) {
      const kube::Json& labels = pod->value("/metadata/labels"_json_pointer, kube::Json::object());
      if (labels.value(api::kFunctionLabel, std::string()) != function ||
          labels.value(api::kRoleLabel, std::string()) != "replica")
        continue;
      const std::string ip = pod->value("/status/podIP"_json_pointer, std::string());
      if (ip.empty() || pod->contains("/metadata/deletionTimestamp"_json_pointer) || !api::podReady(*pod)) continue;
      const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
      replicas.push_back(
          Replica{pod->value("/metadata/name"_json_pointer, std::string()), host + ":" + std::to_string(port)});
    }
    return replicas;
  };
}

// Calls `each` with the object of an add or delete, and with both sides of an update.
template <typename Each>
kube::EventHandler eachObject(Each each) {
  return kube::EventHandler{each,
                            [each](const kube::Json& previous, const kube::Json& current) {
                              each(previous);
                              each(current);
                            },
                            each};
}

}  // namespace

RouteTable::RouteTable(Dispatcher& dispatcher, const kube::ObjectCache& functions, const kube::ObjectCache& triggers,
                       ReplicasOf replicas)
    : dispatcher_(dispatcher), functions_(functions), triggers_(triggers), replicas_(std::move(replicas)) {}

RouteTable::RouteTable(Dispatcher& dispatcher, kube::Informer& functions, kube::Informer& triggers, ReplicasOf replicas)
    : RouteTable(dispatcher, functions.cache(), triggers.cache(), std::move(replicas)) {
  functions.addHandler(eachObject([this](const kube::Json& object) {
    refresh(namespaceOf(object), object.value("/metadata/name"_json_pointer, std::string()));
  }));
  triggers.addHandler(eachObject([this](const kube::Json& object) {
    std::string function = object.value("/spec/functionRef/name"_json_pointer, std::string());
    if (!function.empty()) refresh(namespaceOf(object), function);
  }));
}

RouteTable::RouteTable(Dispatcher& dispatcher, kube::Informer& functions, kube::Informer& triggers,
                       kube::Informer& pods, int port)
    : RouteTable(dispatcher, functions, triggers, replicaPods(pods.cache(), port)) {
  pods.addHandler(eachObject([this](const kube::Json& object) {
    std::string function = object.value("/metadata/labels"_json_pointer / api::kFunctionLabel, std::string());
    if (!function.empty()) refresh(namespaceOf(object), function);
  }));
}

std::optional<std::string> RouteTable::triggerOf(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = triggerOf_.find(key);
  if (it == triggerOf_.end()) return std::nullopt;
  return it->second;
}

void RouteTable::refresh(const std::string& ns, const std::string& function) {
  std::lock_guard lock(mu_);
  refreshLocked(ns, function);
}

void RouteTable::refreshAll() {
  std::lock_guard lock(mu_);
  std::set<std::string> keys;
  for (const auto& [key, trigger] : triggerOf_) keys.insert(key);
  for (const std::string& key : functions_.keys()) keys.insert(key);
  for (const std::string& key : keys) {
    const size_t slash = key.find('/');
    refreshLocked(key.substr(0, slash), key.substr(slash + 1));
  }
}

void RouteTable::refreshLocked(const std::string& ns, const std::string& function) {
  const std::string key = kube::objectKey(ns, function);
  std::string trigger;
  for (const kube::ObjectPtr& candidate : spec::triggersOf(triggers_, ns, function)) {
    if (!candidate->contains("/spec/http"_json_pointer)) continue;
    if (candidate->contains("/metadata/deletionTimestamp"_json_pointer)) continue;
    std::string name = candidate->value("/metadata/name"_json_pointer, std::string());
    if (trigger.empty() || name < trigger) trigger = name;  // the same one whatever the cache's order
  }
  kube::ObjectPtr object = functions_.get(key);
  if (trigger.empty() || !object || object->contains("/metadata/deletionTimestamp"_json_pointer)) {
    if (triggerOf_.erase(key) > 0) dispatcher_.removeFunction(key);
    return;
  }
  FunctionRoute route;
  route.concurrency = object->value("/spec/concurrency"_json_pointer, 1);
  route.replicas = replicas_(ns, function);
  std::sort(route.replicas.begin(), route.replicas.end(),
            [](const Replica& a, const Replica& b) { return a.name < b.name; });
  triggerOf_[key] = trigger;
  dispatcher_.setFunction(key, std::move(route));
}

}  // namespace sluice::gateway
