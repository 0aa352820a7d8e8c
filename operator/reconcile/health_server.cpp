#include "reconcile/health_server.h"

namespace sluice::reconcile {

HealthServer::HealthServer(std::string bindAddress, std::function<std::string()> notReadyReason)
    : bindAddress_(!bindAddress.empty() && bindAddress[0] == ':' ? "0.0.0.0" + bindAddress : std::move(bindAddress)),
      notReadyReason_(std::move(notReadyReason)) {}

HealthServer::~HealthServer() { stop(); }

http::ServerResponse HealthServer::answer(const http::ServerRequest& request) const {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (request.method != "GET") return http::textResponse(405, "GET only\n");
  if (path == "/healthz") return http::textResponse(200, "ok\n");
  if (path == "/readyz") {
    const std::string reason = notReadyReason_ ? notReadyReason_() : "";
    return reason.empty() ? http::textResponse(200, "ok\n") : http::textResponse(503, reason + "\n");
  }
  return http::textResponse(404, "no such endpoint: " + path + "\n");
}

Status HealthServer::start() {
  // The server logs where it listens.
  auto server = http::startEndpointServer(bindAddress_, "health probe server",
                                          [this](const http::ServerRequest& request) { return answer(request); });
  if (server.isOk()) server_ = std::move(*server);
  return server.status();
}

void HealthServer::stop() {
  if (!server_) return;
  server_->stop(std::chrono::seconds(1));
  server_.reset();
}

}  // namespace sluice::reconcile
