#include "platform/kube/http_replica_control.h"

namespace sluice::platform {

Result<std::pair<ControlEndpoint, std::string>> HttpReplicaControl::addressOf(const nlohmann::json& pod) {
  const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  const std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  const std::string ip = pod.value("/status/podIP"_json_pointer, std::string());
  if (ip.empty()) return unavailable("pod " + ns + "/" + name + " has no IP yet");
  auto token = tokens_.ensure(ns);
  if (!token.isOk()) return token.status();
  return std::pair{ControlEndpoint{ip, options_.port, "pod " + ns + "/" + name}, *token};
}

Status HttpReplicaControl::drain(const nlohmann::json& pod) {
  auto address = addressOf(pod);
  if (!address.isOk()) return address.status();
  return client_.drain(address->first, address->second, options_.drainTimeout);
}

Status HttpReplicaControl::specialize(const nlohmann::json& pod, const std::string& configuration) {
  auto address = addressOf(pod);
  if (!address.isOk()) return address.status();
  return client_.specialize(address->first, address->second, configuration, options_.specializeTimeout);
}

Status HttpReplicaControl::invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                                  const std::string& body) {
  auto address = addressOf(pod);
  if (!address.isOk()) return address.status();
  return client_.invoke(address->first, address->second, trigger, eventType, body, options_.invokeTimeout);
}

}  // namespace sluice::platform
