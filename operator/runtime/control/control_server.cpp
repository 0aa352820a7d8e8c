#include "runtime/control/control_server.h"

// spdlog/fmt first: cpprestsdk defines a macro U() that breaks fmt's templates.
#include "common/logging.h"

#include <cpprest/http_listener.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <thread>

namespace sluice::runtime {

namespace http = web::http;
using web::http::experimental::listener::http_listener;

namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

int httpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

void replyText(const http::http_request& request, int code, const std::string& text) {
  request.reply(static_cast<http::status_code>(code), text, kTextPlain).wait();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string headerOr(const http::http_headers& headers, const std::string& name, const std::string& fallback) {
  auto it = headers.find(name);
  return it == headers.end() ? fallback : it->second;
}

}  // namespace

Status checkBearerToken(const std::string& authorizationHeader, const std::string& expectedToken) {
  if (expectedToken.empty()) {
    return Status(StatusCode::kUnauthenticated, "specialization is disabled: no token is configured");
  }
  if (authorizationHeader.empty()) return Status(StatusCode::kUnauthenticated, "missing bearer token");
  const std::string prefix = "Bearer ";
  if (authorizationHeader.size() <= prefix.size() || lower(authorizationHeader.substr(0, prefix.size())) != "bearer ") {
    return Status(StatusCode::kUnauthenticated, "Authorization header is not a bearer token");
  }
  std::string given = authorizationHeader.substr(prefix.size());
  // Constant time in the token's length, so timing does not reveal a prefix.
  unsigned char diff = given.size() == expectedToken.size() ? 0 : 1;
  for (size_t i = 0; i < expectedToken.size(); ++i) {
    diff |= static_cast<unsigned char>(expectedToken[i] ^ (i < given.size() ? given[i] : 0));
  }
  if (diff != 0) return Status(StatusCode::kUnauthenticated, "wrong bearer token");
  return Status::ok();
}

ControlServer::ControlServer(ControlServerOptions options, ControlHooks& hooks)
    : options_(std::move(options)), hooks_(hooks) {}

ControlServer::~ControlServer() { stop(); }

Status ControlServer::start() {
  std::string url = "http://" + options_.bindAddress;
  try {
    listener_ = std::make_unique<http_listener>(url);
    listener_->support([this](http::http_request request) {
      std::string path = request.relative_uri().path();
      const auto& method = request.method();
      try {
        if (path == "/healthz" && method == http::methods::GET) {
          std::string reason = options_.unhealthyReason ? options_.unhealthyReason() : "";
          replyText(request, reason.empty() ? 200 : 503, reason.empty() ? "ok\n" : reason + "\n");
        } else if (path == "/readyz" && method == http::methods::GET) {
          std::string reason = hooks_.notReadyReason();
          replyText(request, reason.empty() ? 200 : 503, reason.empty() ? "ready\n" : reason + "\n");
        } else if (path == "/metrics" && method == http::methods::GET) {
          request.reply(http::status_codes::OK, hooks_.metricsText(), "text/plain; version=0.0.4; charset=utf-8")
              .wait();
        } else if (path == "/specialize" && method == http::methods::POST) {
          Status auth = checkBearerToken(headerOr(request.headers(), "Authorization", ""), options_.specializeToken);
          if (!auth.isOk()) {
            SLUICE_LOG_WARN("refused /specialize: {}", auth.message());
            replyText(request, 401, auth.message() + "\n");
            return;
          }
          std::string body = request.extract_string(true).get();
          Status status = hooks_.specialize(body);
          replyText(request, status.isOk() ? 200 : httpStatusFor(status),
                    status.isOk() ? "specialized\n" : status.toString() + "\n");
        } else if (path == "/drain" && method == http::methods::POST) {
          // A drain takes the replica out of service: the same token as /specialize guards it.
          Status auth = checkBearerToken(headerOr(request.headers(), "Authorization", ""), options_.specializeToken);
          if (!auth.isOk()) {
            SLUICE_LOG_WARN("refused /drain: {}", auth.message());
            replyText(request, 401, auth.message() + "\n");
            return;
          }
          hooks_.requestDrain();
          replyText(request, 202, "draining\n");
        } else if (path == "/invoke" && method == http::methods::POST) {
          lastInvokeAt_ = std::chrono::steady_clock::now().time_since_epoch().count();
          if (std::string refused = hooks_.refusesInvocations(); !refused.empty()) {
            http::http_response response(http::status_codes::ServiceUnavailable);
            response.headers().add("X-Sluice-Not-Handled", refused);
            response.headers().add(http::header_names::connection, "close");
            response.set_body("Unavailable: the replica takes no invocations: " + refused + "\n", kTextPlain);
            request.reply(response).wait();
            return;
          }
          InvokeRequest invoke;
          auto bytes = request.extract_vector().get();
          invoke.body.assign(bytes.begin(), bytes.end());
          for (const auto& [name, value] : request.headers()) invoke.headers.emplace_back(lower(name), value);
          invoke.trigger = headerOr(request.headers(), "X-Sluice-Trigger", "http");
          invoke.eventType = headerOr(request.headers(), "X-Sluice-Event-Type", "http.request");
          auto result = hooks_.invoke(invoke);
          http::http_response response(http::status_codes::OK);
          if (!result.isOk()) {
            response.set_status_code(static_cast<http::status_code>(httpStatusFor(result.status())));
            response.set_body(result.status().toString() + "\n", kTextPlain);
          } else if (result->empty()) {
            response.set_status_code(http::status_codes::NoContent);
          } else if (result->size() == 1) {
            const std::string& value = (*result)[0].value;
            response.set_body(std::vector<unsigned char>(value.begin(), value.end()));
            response.headers().set_content_type("application/octet-stream");
          } else {
            nlohmann::json values = nlohmann::json::array();
            for (const Record& record : *result) values.push_back(record.value);
            response.set_body(values.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              "application/json");
          }
          // Drained while it ran: the caller's next call on this connection would only be refused.
          if (!hooks_.refusesInvocations().empty()) response.headers().add(http::header_names::connection, "close");
          request.reply(response).wait();
        } else {
          replyText(request, 404, "no such endpoint: " + method + " " + path + "\n");
        }
      } catch (const std::exception& e) {
        SLUICE_LOG_ERROR("control server: {} {}: {}", method, path, e.what());
        try {
          replyText(request, 500, std::string("internal error: ") + e.what() + "\n");
        } catch (...) {
        }
      }
    });
    listener_->open().wait();
  } catch (const std::exception& e) {
    listener_.reset();
    return unavailable("control server on " + options_.bindAddress + ": " + e.what());
  }
  SLUICE_LOG_INFO("control server listening on {}", options_.bindAddress);
  return Status::ok();
}

void ControlServer::stop() {
  if (!listener_) return;
  // Callers still sending get "503 draining" (refusesInvocations() says so once a drain was asked)
  // and their connection closed, instead of the closed listener's bare 404.
  using SteadyClock = std::chrono::steady_clock;
  const auto giveUp = SteadyClock::now() + options_.closeLingerMax;
  while (SteadyClock::now() < giveUp) {
    const SteadyClock::time_point last{SteadyClock::duration(lastInvokeAt_.load())};
    const auto quietUntil = last + options_.closeQuietPeriod;
    if (lastInvokeAt_.load() == 0 || SteadyClock::now() >= quietUntil) break;
    std::this_thread::sleep_until(std::min(quietUntil, giveUp));
  }
  try {
    listener_->close().wait();
  } catch (const std::exception& e) {
    SLUICE_LOG_WARN("control server close: {}", e.what());
  }
  listener_.reset();
}

}  // namespace sluice::runtime
