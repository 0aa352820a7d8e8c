// Gateway: sluice-gateway's front door. Serves `<method> /<namespace>/<function><path>`
// (and host routes under `domain`, see route.h) on the public listener and hands each request to the Dispatcher;
// answers:
//   the handler's answer (a Lambda/SCF proxy response mapped, see proxy_response.h),
//     with X-Sluice-Replica (who answered) and X-Sluice-Attempts (replicas tried:
//     > 1 when a connection was refused or a replica turned it away unhandled),
//   404 no routable Function (none of that name, or without an http Trigger),
//   413 a body over maxBodyBytes, 503 + Retry-After the Function's queue is full,
//   504 no answer within the request timeout,
//   502 the replica broke the connection after the request was sent (it may have
//     run the handler, e.g. a replica killed mid-request: never retried; at most
//     spec.concurrency requests per lost replica),
//   503 + Retry-After still queued when the gateway stops (never sent);
//   with `X-Sluice-Invocation-Type: Event`, 202 once the request is kept
//   durably (async_invoker.h), 400 for any other invocation type.
// The admin listener serves /healthz, /readyz (routes loaded), /metrics and
// /loads (JSON: each routable Function's pending and in-flight requests, read
// by the operator's http scaler) and /activations (the long poll of
// activation_feed.h: which Functions got a request they have no replica for,
// pushed to the operator's autoscaler the moment it happens).
// Thread-safety: start()/stop() from one thread; the rest runs on the servers' threads.
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/tokens.h"
#include "gateway/activation_feed.h"
#include "gateway/async_invoker.h"
#include "gateway/dispatcher.h"
#include "gateway/gateway_metrics.h"
#include "http/http_server.h"

namespace sluice::gateway {

struct GatewayOptions {
  std::string listenAddress = "0.0.0.0:8080";
  std::string adminAddress = "0.0.0.0:9090";
  std::string domain;  // routes Host <function>.<namespace>.<domain> too; empty: path routes only
  std::size_t maxBodyBytes = std::size_t{6} * 1024 * 1024;
  int threads = 2;
  // Set: the public listener runs on these loops (shared with the
  // BeastUpstream, so a request stays on one thread), not `threads` of its own.
  http::IoPool* ioPool = nullptr;
  int retryAfterSeconds = 1;  // in a 503's Retry-After
  std::chrono::milliseconds tickInterval{50};
  // Each forwarded request carries its namespace's invoke tokens derived from
  // these (X-Sluice-Invoke-Token), followed as they change (read again on
  // the gateway's tick, off the requests' threads); none: replicas
  // refuse the gateway (401).
  InvokeKeyRing invokeKeys;
  // When set, sent for every namespace instead (the local platform: one token for all its processes).
  std::string invokeToken;
};

class Gateway {
 public:
  // `triggerOf`: the http Trigger of a routable Function (namespace/name), or none.
  // `notReadyReason`: "" when ready (routes loaded), else why not.
  Gateway(GatewayOptions options, Dispatcher& dispatcher,
          std::function<std::optional<std::string>(const std::string&)> triggerOf,
          std::function<std::string()> notReadyReason, std::shared_ptr<prometheus::Registry> registry);
  ~Gateway();

  // Takes `X-Sluice-Invocation-Type: Event` requests (see async_invoker.h);
  // without one they get 501. Call before start().
  void setAsyncInvoker(AsyncInvoker* invoker) { async_ = invoker; }

  Status start();
  // Stops taking requests, ends queued ones, lets answers in progress finish (up to `grace`).
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  int port() const { return public_->port(); }
  int adminPort() const { return admin_->port(); }
  ActivationFeed& activations() { return activations_; }

 private:
  void serve(http::ServerRequest request, http::Responder respond);
  void serveAdmin(const http::ServerRequest& request, const http::Responder& respond);
  // The X-Sluice-Invoke-Token value for namespace `ns`: derived once per
  // namespace (the keys are fixed for the process), not an HMAC per request.
  std::string invokeTokenHeader(const std::string& ns);

  const GatewayOptions options_;
  Dispatcher& dispatcher_;
  std::function<std::optional<std::string>(const std::string&)> triggerOf_;
  std::function<std::string()> notReadyReason_;
  std::shared_ptr<prometheus::Registry> registry_;
  GatewayMetrics metrics_;
  ActivationFeed activations_;
  std::unique_ptr<http::HttpServer> public_;
  std::unique_ptr<http::HttpServer> admin_;
  std::jthread ticker_;
  AsyncInvoker* async_ = nullptr;
  std::mutex tokensMu_;
  std::map<std::string, std::string> tokens_;  // namespace -> invokeTokenHeader(), for keysGeneration_
  uint64_t keysGeneration_ = 0;                // guarded by tokensMu_
};

// The /loads document: {"functions":[{"namespace","name","pending","inFlight","replicas","requestsPerSecond"}]}.
std::string loadsJson(const std::vector<FunctionLoad>& loads);

}  // namespace sluice::gateway
