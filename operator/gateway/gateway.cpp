#include "gateway/gateway.h"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "common/logging.h"
#include "common/random.h"
#include "gateway/proxy_response.h"
#include "gateway/route.h"
#include "http/metrics_response.h"

namespace sluice::gateway {

namespace {

// Tells this process's activation feed from the one of the gateway's next start.
std::string newInstanceId(const Clock& clock) {
  if (Result<std::string> token = randomHexToken(8); token.isOk()) return *token;
  // No randomness: the start time still differs from one process to the next.
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(clock.wallNow().time_since_epoch().count()));
  return hex;
}

}  // namespace

std::string loadsJson(const std::vector<FunctionLoad>& loads) {
  nlohmann::json functions = nlohmann::json::array();
  for (const FunctionLoad& load : loads) {
    const size_t slash = load.key.find('/');
    functions.push_back({{"namespace", load.key.substr(0, slash)},
                         {"name", load.key.substr(slash + 1)},
                         {"pending", load.pending},
                         {"inFlight", load.inFlight},
                         {"replicas", load.replicas},
                         {"requestsPerSecond", load.requestsPerSecond}});
  }
  return nlohmann::json{{"functions", functions}}.dump();
}

Gateway::Gateway(GatewayOptions options, Dispatcher& dispatcher,
                 std::function<std::optional<std::string>(const std::string&)> triggerOf,
                 std::function<std::string()> notReadyReason, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)),
      dispatcher_(dispatcher),
      triggerOf_(std::move(triggerOf)),
      notReadyReason_(std::move(notReadyReason)),
      registry_(std::move(registry)),
      metrics_(registry_, dispatcher_),
      activations_(ActivationFeedOptions{}, realClock(), newInstanceId(dispatcher.clock()),
                   [&dispatcher = dispatcher_] { return dispatcher.waitingAtZero(); }) {
  dispatcher_.setWaitingAtZeroListener([this](const std::string& key) { activations_.raise(key); });
  http::HttpServerOptions publicOptions;
  publicOptions.bindAddress = options_.listenAddress;
  publicOptions.maxBodyBytes = options_.maxBodyBytes;
  publicOptions.threads = options_.threads;
  publicOptions.ioPool = options_.ioPool;
  publicOptions.name = "gateway";
  public_ = std::make_unique<http::HttpServer>(
      publicOptions,
      [this](http::ServerRequest request, http::Responder respond) { serve(std::move(request), std::move(respond)); });
  http::HttpServerOptions adminOptions;
  adminOptions.bindAddress = options_.adminAddress;
  adminOptions.maxBodyBytes = std::size_t{64} * 1024;
  adminOptions.threads = 1;
  adminOptions.name = "gateway admin";
  admin_ = std::make_unique<http::HttpServer>(
      adminOptions,
      [this](const http::ServerRequest& request, const http::Responder& respond) { serveAdmin(request, respond); });
}

Gateway::~Gateway() {
  stop(std::chrono::seconds(1));
  dispatcher_.setWaitingAtZeroListener(nullptr);  // the Dispatcher may outlive us
}

Status Gateway::start() {
  if (Status status = admin_->start(); !status.isOk()) return status;
  if (Status status = public_->start(); !status.isOk()) return status;
  ticker_ = std::jthread([this](std::stop_token stop) {
    while (realClock().sleepFor(options_.tickInterval, stop)) {
      dispatcher_.tick();
      activations_.tick();
      // The key folder is read again here when due, never on a request's thread.
      options_.invokeKeys.refresh();
    }
  });
  return Status::ok();
}

void Gateway::stop(std::chrono::milliseconds grace) {
  ticker_ = std::jthread();
  activations_.shutdown();
  dispatcher_.shutdown();
  public_->stop(grace);
  admin_->stop(std::chrono::seconds(1));
}

void Gateway::serve(http::ServerRequest request, http::Responder respond) {
  const Clock::TimePoint started = dispatcher_.clock().now();
  const std::string* host = request.header("host");
  std::optional<Route> route = parseRoute(host ? *host : std::string(), request.target, options_.domain);
  if (!route) {
    respond(http::textResponse(404, "no route: the gateway serves /<namespace>/<function>/<path>\n"));
    return;
  }
  std::optional<std::string> trigger = triggerOf_(route->key());
  if (!trigger) {
    metrics_.observe(route->ns, route->function, 404, 0);
    respond(http::textResponse(404, "no Function " + route->key() + " with an http Trigger\n"));
    return;
  }
  Result<InvocationType> type = invocationTypeOf(request);
  if (!type.isOk() || *type == InvocationType::kEvent) {
    http::ServerResponse response = !type.isOk() ? http::textResponse(400, type.status().message() + "\n")
                                    : async_
                                        ? async_->accept(*route, *trigger, invokeRequestFor(request, *route, *trigger))
                                        : http::textResponse(501, "this gateway takes no asynchronous invocations\n");
    // An accepted invocation is an arrival the Function must process: the rate target counts it.
    if (response.status == 202) dispatcher_.recordArrival(route->key());
    metrics_.observe(route->ns, route->function, response.status,
                     std::chrono::duration<double>(dispatcher_.clock().now() - started).count());
    respond(std::move(response));
    return;
  }
  Call call;
  call.request = invokeRequestFor(std::move(request), *route, *trigger);
  // The client's own X-Sluice-* headers were dropped above: only the gateway's token reaches the replica.
  call.request.headers.emplace_back(kInvokeTokenHeader, invokeTokenHeader(route->ns));
  call.done = [this, respond = std::move(respond), route = *route, started](const CallResult& result) {
    http::ServerResponse response;
    switch (result.end) {
      case CallEnd::kAnswered:
        response = clientResponseFrom(result.response);
        response.headers.emplace_back("X-Sluice-Replica", result.replica);
        response.headers.emplace_back("X-Sluice-Attempts", std::to_string(result.attempts));
        break;
      case CallEnd::kNotFound:
        response = http::textResponse(404, "Function " + route.key() + " is not routable: " + result.detail + "\n");
        break;
      case CallEnd::kStopping:
        response = http::textResponse(503, "the gateway is stopping; try again\n");
        response.headers.emplace_back("Retry-After", std::to_string(options_.retryAfterSeconds));
        break;
      case CallEnd::kQueueFull:
        response = http::textResponse(503, "Function " + route.key() + ": too many requests waiting; try again\n");
        response.headers.emplace_back("Retry-After", std::to_string(options_.retryAfterSeconds));
        break;
      case CallEnd::kTimedOut:
        response =
            http::textResponse(504, "Function " + route.key() + " did not answer in time: " + result.detail + "\n");
        break;
      case CallEnd::kUpstreamFailed:
        response = http::textResponse(502, "Function " + route.key() + ": replica " + result.replica +
                                               " failed during the request: " + result.detail + "\n");
        break;
    }
    metrics_.observe(route.ns, route.function, response.status,
                     std::chrono::duration<double>(dispatcher_.clock().now() - started).count());
    respond(std::move(response));
  };
  dispatcher_.submit(route->key(), std::move(call));
}

void Gateway::serveAdmin(const http::ServerRequest& request, const http::Responder& respond) {
  std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/healthz") return respond(http::textResponse(200, "ok\n"));
  if (path == "/readyz") {
    std::string reason = notReadyReason_ ? notReadyReason_() : "";
    return respond(http::textResponse(reason.empty() ? 200 : 503, reason.empty() ? "ready\n" : reason + "\n"));
  }
  if (path == "/metrics") {
    auto families = registry_->Collect();
    auto loads = metrics_.collector()->Collect();
    families.insert(families.end(), loads.begin(), loads.end());
    return respond(http::metricsResponse(http::prometheusText(families)));
  }
  if (path == "/loads") {
    http::ServerResponse response;
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = loadsJson(dispatcher_.loads());
    return respond(std::move(response));
  }
  if (path == "/activations") {
    if (activations_.stopped()) {
      // Not an empty answer: the operator's watcher would ask again at once, all through the stop.
      http::ServerResponse response = http::textResponse(503, "the gateway is stopping\n");
      response.headers.emplace_back("Retry-After", "1");
      return respond(std::move(response));
    }
    Result<ActivationQuery> query = activationQueryFrom(request.target);
    if (!query.isOk()) return respond(http::textResponse(400, query.status().message() + "\n"));
    activations_.wait(*query, [respond](const Activations& activations) {
      http::ServerResponse response;
      response.headers.emplace_back("Content-Type", "application/json");
      response.body = activationsJson(activations);
      respond(std::move(response));
    });
    return;
  }
  respond(http::textResponse(404, "no such endpoint: " + path + "\n"));
}

std::string Gateway::invokeTokenHeader(const std::string& ns) {
  if (!options_.invokeToken.empty()) return options_.invokeToken;
  const uint64_t generation = options_.invokeKeys.generation();
  std::lock_guard lock(tokensMu_);
  if (generation != keysGeneration_) {  // new master keys: every namespace's tokens change
    tokens_.clear();
    keysGeneration_ = generation;
  }
  auto [it, added] = tokens_.try_emplace(ns);
  if (added) it->second = invokeTokensFor(options_.invokeKeys.keys(), ns);
  return it->second;
}

}  // namespace sluice::gateway
