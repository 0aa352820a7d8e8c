// ControlServer: the replica's HTTP endpoints (http/HttpServer, asynchronous:
// a slow or stalled client holds no thread), on two ports so that what runs
// events and what controls the replica can be reached by different callers (a
// NetworkPolicy, the gateway's routes):
//
// The control port (bindAddress, 8090 on a pod): the operator and probes;
// HTTPS when given a certificate.
//   GET  /healthz     200 while the process lives and unhealthyReason (if
//                     set) returns ""; else 503 with that reason
//   GET  /readyz      200 when ready for work, else 503 with the reason
//   GET  /metrics     Prometheus text format
//   POST /specialize  Authorization: Bearer <token>; 401 when missing or wrong
//                     (and always 401 when no token is configured); body = the
//                     function configuration
//   POST /drain       Authorization: Bearer <token> as /specialize (401 otherwise);
//                     202; starts a graceful drain (SIGTERM needs no token)
//
// The data port (dataBindAddress, 8080 on a pod): the gateway and the
// operator's cron firer. Nothing else is served there (404).
//   POST /invoke      A body over the limit is refused with 413 as soon as its
//                     header (or the streamed body) shows it, before it is read
//                     (invoke_limits.h): reading it to authenticate would cost
//                     the memory the limit protects. Then X-Sluice-Invoke-Token:
//                     <token>; 401 when missing or not one of invokeTokens
//                     (always 401 when none is configured), before anything
//                     else is looked at. 503 with X-Sluice-Not-Handled: <why>
//                     when the replica takes no invocations (draining, nothing
//                     loaded): no handler saw it. 429 with Retry-After over the
//                     concurrency limit. X-Sluice-Trigger names an http trigger
//                     (X-Sluice-Event-Type http.request, the default) or a cron
//                     trigger (cron.tick) of the function, else 404; without it
//                     the function's only http trigger. Then runs the handler
//                     on the body (the token header removed); 200 with the
//                     output (one record: its bytes; several: a JSON array of
//                     strings), 204 with none, 4xx/5xx with the error text
// Handlers and /specialize run on worker threads, never on the servers'.
// Kept-alive connections: every /invoke answer of a draining replica (the
// refusal, and the answers of invocations that were under way) carries
// "Connection: close", so a caller's pool (the gateway's) keeps no connection
// to it; stop() keeps answering so (503 draining) until /invoke has been quiet
// for closeQuietPeriod (at most closeLingerMax), so callers still sending
// learn that no handler saw their request rather than losing the connection.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "http/http_server.h"
#include "runtime/control/control_hooks.h"
#include "runtime/control/invoke_limits.h"

namespace sluice::runtime {

struct ControlServerOptions {
  std::string bindAddress = "0.0.0.0:8090";  // host:port of the control endpoints
  std::string specializeToken;               // empty: /specialize and /drain always refuse
  // Both set (PEM): the control port serves HTTPS with them (the operator's
  // CA, docs/trust.md), so the control token never crosses the network in
  // clear. Empty: plain HTTP. The data port is plain HTTP either way.
  std::string tlsCertificatePem;
  std::string tlsPrivateKeyPem;
  std::string dataBindAddress;  // host:port of /invoke; empty: not served
  // Tokens /invoke accepts: the namespace's current one and, during a
  // rotation's grace, the previous. Empty: /invoke always refuses.
  std::vector<std::string> invokeTokens;
  // Why the process should be restarted (e.g. a stuck Python interpreter), or
  // "" when healthy. Unset: always healthy. Called from server threads.
  std::function<std::string()> unhealthyReason = nullptr;
  InvokeLimitOptions invokeLimits{};
  // The largest /specialize body (a function configuration with its code).
  std::size_t maxSpecializeBytes = std::size_t{64} * 1024 * 1024;
  // stop(): how long /invoke must have been quiet before the servers close, and the longest wait for that.
  std::chrono::milliseconds closeQuietPeriod{250};
  std::chrono::milliseconds closeLingerMax{2000};
  // Times /invoke's quiet and stop()'s wait for it (and sleeps it); outlives the server.
  Clock* clock = &realClock();
};

class ControlServer {
 public:
  ControlServer(ControlServerOptions options, ControlHooks& hooks);
  ~ControlServer();

  // Binds and starts serving; the error names the address.
  Status start();
  void stop();
  // The bound ports (after start()): the control port, and the data port (0 when not served).
  int port() const;
  int dataPort() const;

  // What each port's server calls with a request it has read. Public as the
  // seam of the fuzz target (tests/fuzz/control_request_fuzz.cpp), which hands
  // requests over without a socket; callable from construction until stop().
  void serveControl(http::ServerRequest request, http::Responder respond);
  void serveData(http::ServerRequest request, http::Responder respond);

 private:
  void invoke(http::ServerRequest request, http::Responder respond);
  // True when the request carries the control token; else answers 401.
  bool authorized(const http::ServerRequest& request, const http::Responder& respond) const;

  ControlServerOptions options_;
  ControlHooks& hooks_;
  InvokeLimits limits_;
  // Declared before the servers: they (whose requests post work here) stop first.
  std::unique_ptr<InvokeRunner> runner_;
  std::unique_ptr<http::HttpServer> server_;      // the control port
  std::unique_ptr<http::HttpServer> dataServer_;  // the data port (/invoke)
  // The clock's ticks at the last /invoke that arrived; 0: none yet.
  std::atomic<long long> lastInvokeAt_{0};
};

// Compares a request's Authorization header with the expected token in
// constant time. Returns OK, or kUnauthenticated with the reason.
Status checkBearerToken(const std::string& authorizationHeader, const std::string& expectedToken);

// Whether `given` (an X-Sluice-Invoke-Token header) is one of `accepted`, each
// compared in constant time. OK, or kUnauthenticated with the reason.
Status checkInvokeToken(const std::string& given, const std::vector<std::string>& accepted);

}  // namespace sluice::runtime
