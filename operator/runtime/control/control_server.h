// ControlServer: the replica's HTTP endpoints (cpprestsdk http_listener), on
// two ports so that what runs events and what controls the replica can be
// reached by different callers (a NetworkPolicy, the gateway's routes):
//
// The control port (bindAddress, 8090 on a pod): the operator and probes.
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
//   POST /invoke      X-Sluice-Invoke-Token: <token>; 401 when missing or not
//                     one of invokeTokens (always 401 when none is configured),
//                     before anything else is looked at. 503 with
//                     X-Sluice-Not-Handled: <why> when the replica takes no
//                     invocations (draining, nothing loaded): no handler saw
//                     it. X-Sluice-Trigger names an http trigger
//                     (X-Sluice-Event-Type http.request, the default) or a cron
//                     trigger (cron.tick) of the function, else 404; without it
//                     the function's only http trigger. Then runs the handler
//                     on the body (the token header removed); 200 with the
//                     output (one record: its bytes; several: a JSON array of
//                     strings), 204 with none, 4xx/5xx with the error text
// Kept-alive connections: every /invoke answer of a draining replica (the
// refusal, and the answers of invocations that were under way) carries
// "Connection: close", so a caller's pool (the gateway's) keeps no connection to
// it; stop() keeps answering so (503 draining) until /invoke has been quiet for
// closeQuietPeriod (at most closeLingerMax), because once cpprestsdk's listener
// is closed it answers requests on connections still open with a bare 404 that
// a caller cannot tell from a handler's.
// Thread-safe; requests are served on cpprestsdk's thread pool.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/control/control_hooks.h"

namespace web::http {
class http_request;
namespace experimental::listener {
class http_listener;
}
}  // namespace web::http

namespace sluice::runtime {

struct ControlServerOptions {
  std::string bindAddress = "0.0.0.0:8090";  // host:port of the control endpoints
  std::string specializeToken;               // empty: /specialize and /drain always refuse
  std::string dataBindAddress;               // host:port of /invoke; empty: not served
  // Tokens /invoke accepts: the namespace's current one and, during a
  // rotation's grace, the previous. Empty: /invoke always refuses.
  std::vector<std::string> invokeTokens;
  // Why the process should be restarted (e.g. a stuck Python interpreter), or
  // "" when healthy. Unset: always healthy. Called from server threads.
  std::function<std::string()> unhealthyReason = nullptr;
  // stop(): how long /invoke must have been quiet before the listeners close, and the longest wait for that.
  std::chrono::milliseconds closeQuietPeriod{250};
  std::chrono::milliseconds closeLingerMax{2000};
};

class ControlServer {
 public:
  ControlServer(ControlServerOptions options, ControlHooks& hooks);
  ~ControlServer();

  // Binds and starts serving; the error names the address.
  Status start();
  void stop();

 private:
  void serveControl(web::http::http_request request);
  void serveData(web::http::http_request request);

  ControlServerOptions options_;
  ControlHooks& hooks_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::unique_ptr<web::http::experimental::listener::http_listener> dataListener_;
  // steady_clock nanoseconds of the last /invoke that arrived; 0: none yet.
  std::atomic<long long> lastInvokeAt_{0};
};

// Compares a request's Authorization header with the expected token in
// constant time. Returns OK, or kUnauthenticated with the reason.
Status checkBearerToken(const std::string& authorizationHeader, const std::string& expectedToken);

// Whether `given` (an X-Sluice-Invoke-Token header) is one of `accepted`, each
// compared in constant time. OK, or kUnauthenticated with the reason.
Status checkInvokeToken(const std::string& given, const std::vector<std::string>& accepted);

}  // namespace sluice::runtime
