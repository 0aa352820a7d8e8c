#include "runtime/control/control_server.h"

// spdlog/fmt first: cpprestsdk defines a macro U() that breaks fmt's templates.
#include "common/logging.h"
#include "common/tokens.h"

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
  if (!constantTimeEquals(authorizationHeader.substr(prefix.size()), expectedToken)) {
    return Status(StatusCode::kUnauthenticated, "wrong bearer token");
  }
  return Status::ok();
}

Status checkInvokeToken(const std::string& given, const std::vector<std::string>& accepted) {
  if (accepted.empty())
    return Status(StatusCode::kUnauthenticated, "invocation is disabled: no invoke token is configured");
  if (given.empty()) return Status(StatusCode::kUnauthenticated, std::string("missing ") + kInvokeTokenHeader);
  // The caller sends "current[,previous]" while a master key rolls out. Every
  // pair is compared, so the time does not tell which one matched.
  bool matched = false;
  size_t start = 0;
  while (start <= given.size()) {
    size_t comma = given.find(',', start);
    if (comma == std::string::npos) comma = given.size();
    std::string_view item(given.data() + start, comma - start);
    for (const std::string& token : accepted) matched |= !item.empty() && constantTimeEquals(item, token);
    start = comma + 1;
  }
  if (!matched) return Status(StatusCode::kUnauthenticated, std::string("wrong ") + kInvokeTokenHeader);
  return Status::ok();
}

ControlServer::ControlServer(ControlServerOptions options, ControlHooks& hooks)
    : options_(std::move(options)), hooks_(hooks) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::serveControl(http::http_request request) {
  std::string path = request.relative_uri().path();
  const auto& method = request.method();
  if (path == "/healthz" && method == http::methods::GET) {
    std::string reason = options_.unhealthyReason ? options_.unhealthyReason() : "";
    replyText(request, reason.empty() ? 200 : 503, reason.empty() ? "ok\n" : reason + "\n");
  } else if (path == "/readyz" && method == http::methods::GET) {
    std::string reason = hooks_.notReadyReason();
    replyText(request, reason.empty() ? 200 : 503, reason.empty() ? "ready\n" : reason + "\n");
  } else if (path == "/metrics" && method == http::methods::GET) {
    request.reply(http::status_codes::OK, hooks_.metricsText(), "text/plain; version=0.0.4; charset=utf-8").wait();
  } else if ((path == "/specialize" || path == "/drain") && method == http::methods::POST) {
    // A drain takes the replica out of service: the same token as /specialize guards it.
    Status auth = checkBearerToken(headerOr(request.headers(), "Authorization", ""), options_.specializeToken);
    if (!auth.isOk()) {
      SLUICE_LOG_WARN("refused {}: {}", path, auth.message());
      replyText(request, 401, auth.message() + "\n");
      return;
    }
    if (path == "/drain") {
      hooks_.requestDrain();
      replyText(request, 202, "draining\n");
      return;
    }
    std::string body = request.extract_string(true).get();
    Status status = hooks_.specialize(body);
    replyText(request, status.isOk() ? 200 : httpStatusFor(status),
              status.isOk() ? "specialized\n" : status.toString() + "\n");
  } else {
    replyText(request, 404, "no such endpoint on the control port: " + method + " " + path + "\n");
  }
}

void ControlServer::serveData(http::http_request request) {
  std::string path = request.relative_uri().path();
  const auto& method = request.method();
  if (path != "/invoke" || method != http::methods::POST) {
    replyText(request, 404, "no such endpoint on the data port: " + method + " " + path + "\n");
    return;
  }
  lastInvokeAt_ = std::chrono::steady_clock::now().time_since_epoch().count();
  // Authentication first: an unauthenticated caller learns nothing (not even the trigger names).
  Status auth = checkInvokeToken(headerOr(request.headers(), kInvokeTokenHeader, ""), options_.invokeTokens);
  if (!auth.isOk()) {
    SLUICE_LOG_WARN("refused /invoke from {}: {}", request.remote_address(), auth.message());
    replyText(request, 401, auth.message() + "\n");
    return;
  }
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
  const std::string tokenHeader = lower(kInvokeTokenHeader);
  for (const auto& [name, value] : request.headers()) {
    // The handler sees the request's headers, never the token that let it in.
    if (std::string key = lower(name); key != tokenHeader) invoke.headers.emplace_back(std::move(key), value);
  }
  invoke.trigger = headerOr(request.headers(), "X-Sluice-Trigger", "");
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
    response.set_body(values.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
  }
  // Drained while it ran: the caller's next call on this connection would only be refused.
  if (!hooks_.refusesInvocations().empty()) response.headers().add(http::header_names::connection, "close");
  request.reply(response).wait();
}

namespace {

// Serves `serve` on http://address; a handler's exception becomes a 500.
std::unique_ptr<http_listener> openListener(const std::string& address, std::function<void(http::http_request)> serve) {
  auto listener = std::make_unique<http_listener>("http://" + address);
  listener->support([serve = std::move(serve)](http::http_request request) {
    try {
      serve(request);
    } catch (const std::exception& e) {
      SLUICE_LOG_ERROR("control server: {} {}: {}", request.method(), request.relative_uri().path(), e.what());
      try {
        replyText(request, 500, std::string("internal error: ") + e.what() + "\n");
      } catch (...) {
      }
    }
  });
  listener->open().wait();
  return listener;
}

}  // namespace

Status ControlServer::start() {
  std::string opening = options_.bindAddress;
  try {
    listener_ = openListener(options_.bindAddress, [this](http::http_request r) { serveControl(std::move(r)); });
    opening = options_.dataBindAddress;
    if (!opening.empty())
      dataListener_ = openListener(options_.dataBindAddress, [this](http::http_request r) { serveData(std::move(r)); });
  } catch (const std::exception& e) {
    stop();
    return unavailable("control server on " + opening + ": " + e.what());
  }
  SLUICE_LOG_INFO("control server listening on {} (control) and {} (data: /invoke)", options_.bindAddress,
                  options_.dataBindAddress);
  return Status::ok();
}

void ControlServer::stop() {
  if (!listener_ && !dataListener_) return;
  // Callers still sending get "503 draining" (refusesInvocations() says so once a drain was asked)
  // and their connection closed, instead of the closed listener's bare 404.
  using SteadyClock = std::chrono::steady_clock;
  const auto giveUp = SteadyClock::now() + options_.closeLingerMax;
  while (dataListener_ && SteadyClock::now() < giveUp) {
    const SteadyClock::time_point last{SteadyClock::duration(lastInvokeAt_.load())};
    const auto quietUntil = last + options_.closeQuietPeriod;
    if (lastInvokeAt_.load() == 0 || SteadyClock::now() >= quietUntil) break;
    std::this_thread::sleep_until(std::min(quietUntil, giveUp));
  }
  for (auto* listener : {&dataListener_, &listener_}) {
    if (!*listener) continue;
    try {
      (*listener)->close().wait();
    } catch (const std::exception& e) {
      SLUICE_LOG_WARN("control server close: {}", e.what());
    }
    listener->reset();
  }
}

}  // namespace sluice::runtime
