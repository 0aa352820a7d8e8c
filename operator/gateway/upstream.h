// Upstream: forwards one request to one replica's /invoke and reports how it
// ended. The real one is BeastUpstream; unit tests use a fake that completes
// calls when the test says. Implementations are thread-safe; `done` is called
// exactly once, from any thread (possibly before forward() returns).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "http/http_server.h"

namespace sluice::gateway {

struct UpstreamRequest {
  http::HeaderList headers;  // what the replica gets besides Content-Length/Host
  std::string body;
};

struct UpstreamResponse {
  int status = 0;
  http::HeaderList headers;  // names lower-cased
  std::string body;
};

enum class UpstreamOutcome {
  kAnswered,    // the replica answered (any status)
  kNotReached,  // no connection: nothing was sent, so trying again is safe
  kRefused,     // the replica takes no more calls (draining): no handler saw this one
  kFailed,      // the connection broke after the request was sent: never retried
  kTimedOut,    // no answer within the time given
};

// A replica answers 503 with `X-Sluice-Not-Handled: <reason>` when no handler
// saw the request. Only "draining" means it will take no more calls
// (kRefused). Any other reason is passing, e.g. a warm pod the operator just
// adopted: its labels already say replica and it is Ready, but its /specialize
// has not finished (the runtime holds such a call until its function is
// loaded, up to a second, so this is rare). That call is tried again after the backoff (kNotReached),
// never given up on the replica, or a Function woken from zero on its only
// (adopted) replica would wait for nothing until the request's deadline.
inline UpstreamOutcome refusalOutcome(std::string_view reason) {
  return reason == "draining" ? UpstreamOutcome::kRefused : UpstreamOutcome::kNotReached;
}

struct UpstreamResult {
  UpstreamOutcome outcome = UpstreamOutcome::kAnswered;
  UpstreamResponse response;  // when kAnswered
  std::string error;          // otherwise: what went wrong
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  // `address` is host:port of the replica.
  virtual void forward(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout,
                       std::function<void(UpstreamResult)> done) = 0;
};

}  // namespace sluice::gateway
