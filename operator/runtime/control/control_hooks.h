// ControlHooks: what the control server asks of the replica. Implemented by
// RuntimeController; tests use a fake. Methods are called from the HTTP
// server's threads concurrently: implementations are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

inline constexpr const char* kNotHandledPrefix = "not handled: ";

struct InvokeRequest {
  std::string body;
  Headers headers;        // HTTP request headers, lower-case names
  std::string trigger;    // X-Sluice-Trigger header, or "http"
  std::string eventType;  // "http.request", or "cron.tick" when X-Sluice-Event-Type says so
};

class ControlHooks {
 public:
  virtual ~ControlHooks() = default;

  // Empty when ready to take work, else why not.
  virtual std::string notReadyReason() = 0;

  // Prometheus text exposition.
  virtual std::string metricsText() = 0;

  // Loads the function described by `body` (the function configuration,
  // JSON or YAML) and starts its triggers. Called only after the token check.
  virtual Status specialize(const std::string& body) = 0;

  // Starts a graceful drain; returns at once.
  virtual void requestDrain() = 0;

  // Runs the handler once on an HTTP-pushed event and returns its outputs. A
  // cron tick (event type cron.tick, sent by the operator) is instead delivered
  // like a queued event, to the Function's outputs, and answered (no records)
  // once it is settled.
  // Why this replica takes no invocation at all now ("draining"), or "" when
  // it does (a warm replica's invoke() may still refuse: no function loaded in time). /invoke then answers 503 with
  // X-Sluice-Not-Handled, telling a caller (the gateway) that no handler saw
  // the request, so sending it to another replica is safe.
  virtual std::string refusesInvocations() { return ""; }
  // A refusal before any handler saw the event (the drain may begin between
  // /invoke's check above and this call) is notHandled(reason): answered like
  // refusesInvocations(), so the caller can safely send the request elsewhere.
  virtual Result<std::vector<Record>> invoke(const InvokeRequest& request) = 0;
};

// invoke()'s answer when it refused the event before any handler saw it.
inline Status notHandled(const std::string& reason) {
  return Status(StatusCode::kCancelled, std::string(kNotHandledPrefix) + reason);
}
// The reason of a notHandled() status, or "" for any other status.
inline std::string notHandledReason(const Status& status) {
  const std::string& message = status.message();
  if (status.code() != StatusCode::kCancelled || message.rfind(kNotHandledPrefix, 0) != 0) return "";
  return message.substr(std::string(kNotHandledPrefix).size());
}

}  // namespace sluice::runtime
