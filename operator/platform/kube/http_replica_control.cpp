#include "platform/kube/http_replica_control.h"

namespace sluice::platform {

HttpReplicaControl::HttpReplicaControl(ControlTokens& tokens, HttpReplicaControlOptions options,
                                       std::shared_ptr<http::HttpClient> http)
    : tokens_(tokens),
      options_(options),
      client_(http ? std::move(http) : http::makeTlsHttpClient([&tokens] { return tokens.trustedCertificates(); })) {}

Result<std::pair<ControlEndpoint, NamespaceTokens>> HttpReplicaControl::addressOf(const nlohmann::json& pod, int port,
                                                                                  bool control) {
  const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  const std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  const std::string ip = pod.value("/status/podIP"_json_pointer, std::string());
  if (ip.empty()) return unavailable("pod " + ns + "/" + name + " has no IP yet");
  auto tokens = tokens_.ensure(ns);
  if (!tokens.isOk()) return tokens.status();
  ControlEndpoint endpoint{ip, port, "pod " + ns + "/" + name};
  if (control && api::controlPortServesTls(pod)) endpoint.tlsServerName = api::controlServerName(ns);
  return std::pair{std::move(endpoint), *tokens};
}

Status HttpReplicaControl::withControlToken(
    const nlohmann::json& pod, const std::function<Status(const ControlEndpoint&, const std::string&)>& call) {
  auto address = addressOf(pod, options_.port, true);
  if (!address.isOk()) return address.status();
  const auto& [endpoint, tokens] = *address;
  Status status = call(endpoint, tokens.control);
  // 401 comes before the replica does anything, so asking again is safe.
  if (status.code() == StatusCode::kPermissionDenied && !tokens.previousControl.empty()) {
    status = call(endpoint, tokens.previousControl);
  }
  return status;
}

Status HttpReplicaControl::drain(const nlohmann::json& pod) {
  return withControlToken(pod, [&](const ControlEndpoint& endpoint, const std::string& token) {
    return client_.drain(endpoint, token, options_.drainTimeout);
  });
}

Status HttpReplicaControl::specialize(const nlohmann::json& pod, const std::string& configuration) {
  return withControlToken(pod, [&](const ControlEndpoint& endpoint, const std::string& token) {
    return client_.specialize(endpoint, token, configuration, options_.specializeTimeout);
  });
}

Status HttpReplicaControl::invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                                  const std::string& body) {
  auto address = addressOf(pod, options_.dataPort, false);
  if (!address.isOk()) return address.status();
  const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  return client_.invoke(address->first, tokens_.invokeTokensFor(ns), trigger, eventType, body, options_.invokeTimeout);
}

}  // namespace sluice::platform
