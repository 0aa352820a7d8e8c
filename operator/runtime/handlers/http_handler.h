// HttpHandler: runtime http (docs/handler-images.md). Each event is POSTed to
// a handler server in another container of the same pod, over the loopback
// interface: the body is the event's data, headers carry its id and metadata
// (CloudEvents binary mode, as Knative sends, plus X-Sluice-*). A 2xx answer
// is success, its body (when not empty) the one output record; any other
// status, and a timeout, is a failure the delivery loop retries and
// dead-letters as it does a Python exception. A connection that fails (the
// server is gone: refused, reset, closed before answering) is a crash of the
// handler and is treated as one: `onHandlerGone` runs, which in a replica ends
// the process at once, so every source redelivers what was in flight and the
// Kafka crash marks count the exit against the record being handled, as for
// a Python handler that kills its process.
//
// One connection per call (Boost.Beast, asynchronous, so the timeout bounds
// connect, write and read alike). Thread-safe: the delivery loop calls it
// from up to `concurrency` threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/core/handler.h"

namespace sluice::runtime {

struct HttpHandlerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string path = "/";
  std::string functionName;
  std::chrono::milliseconds timeout{30'000};
  // How long creation waits for the server to accept connections (it starts
  // beside the runtime, and may start after it).
  std::chrono::milliseconds startWait{20'000};
  // Called with the reason when the server is gone; the default writes it to
  // stderr and ends the process with kHandlerGoneExit. Tests record it.
  std::function<void(const std::string&)> onHandlerGone;
};

// The exit code of a replica whose HTTP handler went away mid-call.
inline constexpr int kHandlerGoneExit = 5;

class HttpHandler final : public Handler {
 public:
  // Waits up to options.startWait for the server to accept a connection;
  // kUnavailable naming host:port when it never does.
  static Result<std::unique_ptr<HttpHandler>> create(HttpHandlerOptions options);

  Result<std::vector<Record>> handle(const Event& event, const InvocationContext& context) override;

 private:
  explicit HttpHandler(HttpHandlerOptions options);
  std::chrono::milliseconds timeoutFor(const InvocationContext& context) const;
  std::string url() const;

  HttpHandlerOptions options_;
};

// The request headers for `event` (without the transport's own): exposed for tests.
std::vector<std::pair<std::string, std::string>> httpHandlerHeaders(const Event& event,
                                                                    const InvocationContext& context);

}  // namespace sluice::runtime
