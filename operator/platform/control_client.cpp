#include "platform/control_client.h"

#include "common/tokens.h"

namespace sluice::platform {

std::string ControlEndpoint::url() const {
  return (tlsServerName.empty() ? "http://" : "https://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ControlClient::answerError(int status, const std::string& what, std::string body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  const StatusCode kind = status == 401                                       ? StatusCode::kPermissionDenied
                          : (status == 429 || status == 503 || status == 504) ? StatusCode::kUnavailable
                                                                              : StatusCode::kInternal;
  return Status(kind, what + ": " + std::to_string(status) + " " + body);
}

bool ControlClient::ready(const ControlEndpoint& endpoint, std::chrono::milliseconds timeout) {
  http::Request request;
  request.url = endpoint.url() + "/readyz";
  request.timeout = timeout;
  request.tlsServerName = endpoint.tlsServerName;
  Result<http::Response> response = http_->send(request);
  return response.isOk() && response->status == 200;
}

Status ControlClient::post(const ControlEndpoint& endpoint, const std::string& path, http::Request request) {
  request.method = "POST";
  request.url = endpoint.url() + path;
  request.tlsServerName = endpoint.tlsServerName;
  const std::string what = "POST " + request.url + " (" + endpoint.replica + ")";
  Result<http::Response> response = http_->send(request);
  if (!response.isOk()) return unavailable(what + ": " + response.status().message());
  if (response->status >= 300) return answerError(response->status, what, response->body);
  return Status::ok();
}

Status ControlClient::drain(const ControlEndpoint& endpoint, const std::string& token,
                            std::chrono::milliseconds timeout) {
  http::Request request;
  request.headers = {{"Authorization", "Bearer " + token}};
  request.timeout = timeout;
  return post(endpoint, "/drain", std::move(request));
}

Status ControlClient::specialize(const ControlEndpoint& endpoint, const std::string& token,
                                 const std::string& configuration, std::chrono::milliseconds timeout) {
  http::Request request;
  request.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  request.body = configuration;
  request.timeout = timeout;
  return post(endpoint, "/specialize", std::move(request));
}

Status ControlClient::invoke(const ControlEndpoint& endpoint, const std::string& token, const std::string& trigger,
                             const std::string& eventType, const std::string& body, std::chrono::milliseconds timeout) {
  http::Request request;
  if (!token.empty()) request.headers.emplace_back(kInvokeTokenHeader, token);
  request.headers.emplace_back("X-Sluice-Trigger", trigger);
  request.headers.emplace_back("X-Sluice-Event-Type", eventType);
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.body = body;
  request.timeout = timeout;
  return post(endpoint, "/invoke", std::move(request));
}

}  // namespace sluice::platform
