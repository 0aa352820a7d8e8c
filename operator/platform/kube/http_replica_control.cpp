#include "platform/kube/http_replica_control.h"

#include <cpprest/http_client.h>

namespace sluice::platform {

Status HttpReplicaControl::drain(const nlohmann::json& pod) { return post(pod, "/drain", "", options_.drainTimeout); }

Status HttpReplicaControl::specialize(const nlohmann::json& pod, const std::string& configuration) {
  return post(pod, "/specialize", configuration, options_.specializeTimeout);
}

Status HttpReplicaControl::invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                                  const std::string& body) {
  return post(pod, "/invoke", body, options_.invokeTimeout,
              {{"X-Sluice-Trigger", trigger}, {"X-Sluice-Event-Type", eventType}});
}

Status HttpReplicaControl::post(const nlohmann::json& pod, const std::string& path, const std::string& body,
                                std::chrono::milliseconds timeout, const Headers& headers) {
  const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  const std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  const std::string ip = pod.value("/status/podIP"_json_pointer, std::string());
  if (ip.empty()) return unavailable("pod " + ns + "/" + name + " has no IP yet");
  auto token = tokens_.ensure(ns);
  if (!token.isOk()) return token.status();
  const std::string url =
      "http://" + (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(options_.port);
  try {
    web::http::client::http_client_config config;
    config.set_timeout(timeout);
    web::http::client::http_client client(url, config);
    web::http::http_request request(web::http::methods::POST);
    request.set_request_uri(path);
    request.headers().add("Authorization", "Bearer " + *token);
    for (const auto& [header, value] : headers) request.headers().add(header, value);
    if (!body.empty()) request.set_body(body, "application/json");
    web::http::http_response response = client.request(request).get();
    if (response.status_code() >= 300) {
      std::string text = response.extract_utf8string(true).get();
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      // Unavailable: worth another try (draining, not specialized, overloaded); any other
      // answer is the replica's verdict on the request itself.
      const int code = response.status_code();
      const StatusCode kind = code == 401                                   ? StatusCode::kPermissionDenied
                              : (code == 429 || code == 503 || code == 504) ? StatusCode::kUnavailable
                                                                            : StatusCode::kInternal;
      return Status(kind, "POST " + url + path + " (pod " + ns + "/" + name +
                              "): " + std::to_string(response.status_code()) + " " + text);
    }
    return Status::ok();
  } catch (const std::exception& e) {
    return unavailable("POST " + url + path + " (pod " + ns + "/" + name + "): " + e.what());
  }
}

}  // namespace sluice::platform
