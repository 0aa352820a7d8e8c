#include "reconcile/health_server.h"

#include "common/logging.h"

// After logging.h: cpprest defines a U() macro that breaks fmt's headers.
#include <cpprest/http_listener.h>

namespace sluice::reconcile {

using web::http::experimental::listener::http_listener;
namespace http = web::http;

HealthServer::HealthServer(std::string bindAddress, std::function<std::string()> notReadyReason)
    : bindAddress_(!bindAddress.empty() && bindAddress[0] == ':' ? "0.0.0.0" + bindAddress : std::move(bindAddress)),
      notReadyReason_(std::move(notReadyReason)) {}

HealthServer::~HealthServer() { stop(); }

Status HealthServer::start() {
  try {
    listener_ = std::make_unique<http_listener>("http://" + bindAddress_);
    listener_->support([this](const http::http_request& request) {
      const std::string path = request.relative_uri().path();
      try {
        if (request.method() != http::methods::GET) {
          request.reply(http::status_codes::MethodNotAllowed, "GET only\n").wait();
        } else if (path == "/healthz") {
          request.reply(http::status_codes::OK, "ok\n").wait();
        } else if (path == "/readyz") {
          const std::string reason = notReadyReason_ ? notReadyReason_() : "";
          request
              .reply(reason.empty() ? http::status_codes::OK : http::status_codes::ServiceUnavailable,
                     reason.empty() ? "ok\n" : reason + "\n")
              .wait();
        } else {
          request.reply(http::status_codes::NotFound, "no such endpoint: " + path + "\n").wait();
        }
      } catch (const std::exception& e) {
        SLUICE_LOG_WARN("health server: {}: {}", path, e.what());
      }
    });
    listener_->open().wait();
  } catch (const std::exception& e) {
    listener_.reset();
    return unavailable("health probe server on " + bindAddress_ + ": " + e.what());
  }
  SLUICE_LOG_INFO("serving /healthz and /readyz on {}", bindAddress_);
  return Status::ok();
}

void HealthServer::stop() {
  if (!listener_) return;
  try {
    listener_->close().wait();
  } catch (const std::exception& e) {
    SLUICE_LOG_WARN("health server close: {}", e.what());
  }
  listener_.reset();
}

}  // namespace sluice::reconcile
