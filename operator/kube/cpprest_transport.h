// CpprestTransport: Transport over cpprestsdk's HTTP client.
//
// TLS with the config's CA and client certificate (validated when the
// transport is made, so a bad PEM is reported at startup), bearer tokens
// (re-read from a token file, see BearerToken), a client-side QPS/burst limit,
// and retries with backoff for throttling and server errors that honour
// Retry-After. Thread-safe.
//
// Waits (the rate limit's, a retry's) end at once when `stop` is requested:
// the request then fails with kCancelled instead of holding a shutting-down
// operator for up to maxRetryDelay per request. `onWait` sees every wait,
// for the operator's throttling metrics.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "kube/config.h"
#include "kube/transport.h"

namespace sluice::kube {

struct TransportOptions {
  // Client-side limit on requests started per second (<= 0: none), and above it at once. Sized
  // from bench/scale (BENCHMARKS.md, "Scale"): a Function costs about 9 requests on its way to a
  // pod; at 50 a second, 1,000 applied at once got their last pod 157 s after kubectl returned,
  // while the apiserver of that run took 1,118 creates a second; at 200, 1.7 s.
  double qps = 200;
  int burst = 400;
  int maxRetries = 5;  // for 429, 5xx with Retry-After, and idempotent requests on 5xx / network errors
  std::chrono::milliseconds retryBaseDelay{200};
  std::chrono::seconds maxRetryDelay{30};
  std::stop_token stop;  // ends waits; none by default
  // Called before each wait with its cause — "rate_limit" (client side),
  // "throttled" (a 429), "server_error" (5xx), "unavailable" (no answer) — and
  // its length. Any thread; must not block.
  std::function<void(std::string_view cause, Clock::Duration wait)> onWait;
  // Called as each request (each retry too) is sent, with its method and path. Any thread; must not block.
  std::function<void(std::string_view method, std::string_view pathAndQuery)> onRequest;
};

Result<std::unique_ptr<Transport>> makeCpprestTransport(const ClientConfig& config, Clock& clock,
                                                        TransportOptions options = {});

}  // namespace sluice::kube
