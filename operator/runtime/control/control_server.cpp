#include "runtime/control/control_server.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <thread>

#include "common/logging.h"
#include "common/tokens.h"
#include "http/metrics_response.h"

namespace sluice::runtime {

namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
// How long stop() lets requests being answered finish.
constexpr std::chrono::seconds kStopGrace{2};

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

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string headerOr(const http::ServerRequest& request, const std::string& lowerName, const std::string& fallback) {
  const std::string* value = request.header(lowerName);
  return value == nullptr ? fallback : *value;
}

std::string pathOf(const std::string& target) { return target.substr(0, target.find('?')); }

std::optional<std::uint64_t> contentLength(const http::ServerRequest& request) {
  const std::string* value = request.header("content-length");
  if (value == nullptr) return std::nullopt;
  std::uint64_t length = 0;
  auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), length);
  if (error != std::errc() || end != value->data() + value->size()) return std::nullopt;
  return length;
}

http::ServerResponse response(int status, std::string body, const std::string& contentType) {
  http::ServerResponse out;
  out.status = status;
  out.headers.emplace_back("Content-Type", contentType);
  out.body = std::move(body);
  return out;
}

// 503 telling the caller (the gateway) that no handler saw the request, so
// sending it to another replica is safe; the connection closes, as the
// replica will refuse whatever comes next on it.
http::ServerResponse notHandledResponse(const std::string& reason) {
  http::ServerResponse answer =
      response(503, "Unavailable: the replica takes no invocations: " + reason + "\n", kTextPlain);
  answer.headers.emplace_back("X-Sluice-Not-Handled", reason);
  answer.closeConnection = true;
  return answer;
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
    : options_(std::move(options)),
      hooks_(hooks),
      limits_(options_.invokeLimits),
      // One thread per admitted invocation (they wait on the handler) and one for /specialize;
      // made here rather than in start(), so serveControl() and serveData() work without sockets.
      runner_(std::make_unique<InvokeRunner>(options_.invokeLimits.maxConcurrent + 1)) {}

ControlServer::~ControlServer() { stop(); }

Status ControlServer::start() {
  // stop() let the runner's work finish and dropped it: a restart needs a new one.
  if (!runner_) runner_ = std::make_unique<InvokeRunner>(options_.invokeLimits.maxConcurrent + 1);
  http::HttpServerOptions controlOptions;
  controlOptions.bindAddress = options_.bindAddress;
  controlOptions.name = "control server (control port)";
  controlOptions.maxBodyBytes = options_.maxSpecializeBytes;
  controlOptions.tlsCertificatePem = options_.tlsCertificatePem;
  controlOptions.tlsPrivateKeyPem = options_.tlsPrivateKeyPem;
  server_ =
      std::make_unique<http::HttpServer>(controlOptions, [this](http::ServerRequest request, http::Responder respond) {
        serveControl(std::move(request), std::move(respond));
      });
  Status started = server_->start();
  if (started.isOk() && !options_.dataBindAddress.empty()) {
    // Only /invoke is served here: every body is held to its limit.
    http::HttpServerOptions dataOptions;
    dataOptions.bindAddress = options_.dataBindAddress;
    dataOptions.name = "control server (data port)";
    dataOptions.maxBodyBytes = limits_.bodyLimit();
    dataServer_ =
        std::make_unique<http::HttpServer>(dataOptions, [this](http::ServerRequest request, http::Responder respond) {
          serveData(std::move(request), std::move(respond));
        });
    started = dataServer_->start();
  }
  if (!started.isOk()) {
    if (dataServer_) dataServer_->stop(kStopGrace);
    if (server_) server_->stop(kStopGrace);
    dataServer_.reset();
    server_.reset();
    runner_.reset();
    return started;
  }
  SLUICE_LOG_INFO("control server listening on {} (control) and {} (data: /invoke)", options_.bindAddress,
                  options_.dataBindAddress.empty() ? "nothing" : options_.dataBindAddress);
  return Status::ok();
}

int ControlServer::port() const { return server_ ? server_->port() : 0; }

int ControlServer::dataPort() const { return dataServer_ ? dataServer_->port() : 0; }

void ControlServer::stop() {
  if (dataServer_) {
    // Callers still sending get "503 draining" until /invoke is quiet.
    Clock& clock = *options_.clock;
    const Clock::TimePoint giveUp = clock.now() + options_.closeLingerMax;
    while (clock.now() < giveUp && lastInvokeAt_.load() != 0) {
      const Clock::TimePoint quietUntil =
          Clock::TimePoint(Clock::Duration(lastInvokeAt_.load())) + options_.closeQuietPeriod;
      if (clock.now() >= quietUntil) break;
      clock.sleepUntil(std::min(quietUntil, giveUp), std::stop_token());
    }
    dataServer_->stop(kStopGrace);
  }
  if (server_) server_->stop(kStopGrace);
  dataServer_.reset();
  server_.reset();
  runner_.reset();
}

void ControlServer::serveControl(http::ServerRequest request, http::Responder respond) {
  const std::string path = pathOf(request.target);
  const std::string& method = request.method;
  if (path == "/healthz" && method == "GET") {
    std::string reason = options_.unhealthyReason ? options_.unhealthyReason() : "";
    respond(response(reason.empty() ? 200 : 503, reason.empty() ? "ok\n" : reason + "\n", kTextPlain));
  } else if (path == "/readyz" && method == "GET") {
    std::string reason = hooks_.notReadyReason();
    respond(response(reason.empty() ? 200 : 503, reason.empty() ? "ready\n" : reason + "\n", kTextPlain));
  } else if (path == "/metrics" && method == "GET") {
    respond(http::metricsResponse(hooks_.metricsText()));
  } else if (path == "/specialize" && method == "POST") {
    if (!authorized(request, respond)) return;
    // Loading a handler takes a while: off the server's threads.
    runner_->run([this, body = std::move(request.body), respond] {
      Status status = hooks_.specialize(body);
      respond(response(status.isOk() ? 200 : httpStatusFor(status),
                       status.isOk() ? "specialized\n" : status.toString() + "\n", kTextPlain));
    });
  } else if (path == "/drain" && method == "POST") {
    // A drain takes the replica out of service: the same token as /specialize guards it.
    if (!authorized(request, respond)) return;
    hooks_.requestDrain();
    respond(response(202, "draining\n", kTextPlain));
  } else {
    respond(response(404, "no such endpoint on the control port: " + method + " " + path + "\n", kTextPlain));
  }
}

void ControlServer::serveData(http::ServerRequest request, http::Responder respond) {
  const std::string path = pathOf(request.target);
  if (path != "/invoke" || request.method != "POST") {
    respond(response(404, "no such endpoint on the data port: " + request.method + " " + path + "\n", kTextPlain));
    return;
  }
  invoke(std::move(request), std::move(respond));
}

bool ControlServer::authorized(const http::ServerRequest& request, const http::Responder& respond) const {
  Status auth = checkBearerToken(headerOr(request, "authorization", ""), options_.specializeToken);
  if (auth.isOk()) return true;
  SLUICE_LOG_WARN("refused {}: {}", pathOf(request.target), auth.message());
  respond(response(401, auth.message() + "\n", kTextPlain));
  return false;
}

void ControlServer::invoke(http::ServerRequest request, http::Responder respond) {
  lastInvokeAt_ = options_.clock->now().time_since_epoch().count();
  // Authentication first: an unauthenticated caller learns nothing (not even the trigger names).
  const std::string tokenHeader = lower(kInvokeTokenHeader);
  Status auth = checkInvokeToken(headerOr(request, tokenHeader, ""), options_.invokeTokens);
  if (!auth.isOk()) {
    SLUICE_LOG_WARN("refused /invoke from {}: {}", request.remoteAddress, auth.message());
    respond(response(401, auth.message() + "\n", kTextPlain));
    return;
  }
  // The handler sees the request's headers, never the token that let it in.
  std::erase_if(request.headers, [&](const auto& header) { return header.first == tokenHeader; });
  if (std::string refused = hooks_.refusesInvocations(); !refused.empty()) {
    respond(notHandledResponse(refused));
    return;
  }
  auto admitted = limits_.admit(contentLength(request));
  if (auto* refusal = std::get_if<http::ServerResponse>(&admitted)) {
    SLUICE_LOG_DEBUG("refused /invoke: {} {}", refusal->status, refusal->body);
    respond(std::move(*refusal));
    return;
  }
  runner_->run([this, slot = std::get<InvokeLimits::Slot>(admitted), request = std::move(request), respond] {
    InvokeRequest invoke;
    invoke.body = request.body;
    invoke.headers = request.headers;  // names already lower-case
    invoke.trigger = headerOr(request, "x-sluice-trigger", "");
    invoke.eventType = headerOr(request, "x-sluice-event-type", "http.request");
    Result<std::vector<Record>> result = internalError("not run");
    try {
      result = hooks_.invoke(invoke);
    } catch (const std::exception& e) {
      result = internalError(std::string("invoke: ") + e.what());
    }
    http::ServerResponse answer;
    if (std::string refused = result.isOk() ? "" : notHandledReason(result.status()); !refused.empty()) {
      answer = notHandledResponse(refused);
    } else if (!result.isOk()) {
      answer = response(httpStatusFor(result.status()), result.status().toString() + "\n", kTextPlain);
      if (answer.status == 429) answer.headers.emplace_back("Retry-After", "1");
    } else if (result->empty()) {
      answer.status = 204;
    } else if (result->size() == 1) {
      answer = response(200, std::move((*result)[0].value), "application/octet-stream");
    } else {
      nlohmann::json values = nlohmann::json::array();
      for (const Record& record : *result) values.push_back(record.value);
      answer = response(200, values.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
    }
    // Drained while it ran: the caller's next call on this connection would only be refused.
    answer.closeConnection = !hooks_.refusesInvocations().empty();
    respond(std::move(answer));
  });
}

}  // namespace sluice::runtime
