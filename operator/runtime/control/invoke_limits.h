// InvokeLimits: admission control for /invoke, so pushed requests cannot take
// the replica's memory. A body larger than maxBodyBytes is refused with 413:
// from its Content-Length before any of it is read, and while it streams in
// (chunked) once it passes the limit, never buffered whole (the server reads
// with this limit: bodyLimit()). At most maxConcurrent invocations run or wait
// for the handler at once; one more is refused with 429 and Retry-After, so
// concurrent bodies stay within maxConcurrent x maxBodyBytes.
//
// InvokeRunner: the threads invocations run on, off the HTTP server's own
// threads, so a slow handler never delays /healthz. admit() before run()
// bounds its queue.
//
// Whoever serves /invoke (after authenticating the caller) asks admit() and
// keeps the Slot until the answer is sent. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "http/http_server.h"

namespace sluice::runtime {

struct InvokeLimitOptions {
  std::size_t maxBodyBytes = std::size_t{6} * 1024 * 1024;  // as AWS Lambda's synchronous invocations
  int maxConcurrent = 32;
  std::chrono::seconds retryAfter{1};  // told to a caller refused with 429
};

class InvokeLimits {
 public:
  explicit InvokeLimits(InvokeLimitOptions options);

  // One admitted invocation; the place is given back when the last copy goes.
  class Slot {
   public:
    explicit Slot(InvokeLimits* limits);
    Slot(const Slot&) = default;
    Slot& operator=(const Slot&) = default;

   private:
    std::shared_ptr<void> release_;
  };

  // A Slot, or the refusal to send: 413 when `contentLength` (the header,
  // when given) is over the body limit, 429 with Retry-After when
  // maxConcurrent invocations are under way.
  std::variant<Slot, http::ServerResponse> admit(std::optional<std::uint64_t> contentLength);

  std::size_t bodyLimit() const { return options_.maxBodyBytes; }
  int inUse() const;

 private:
  http::ServerResponse bodyTooLarge() const;

  const InvokeLimitOptions options_;
  mutable std::mutex mu_;
  int inUse_ = 0;  // guarded by mu_
};

class InvokeRunner {
 public:
  explicit InvokeRunner(int threads);
  ~InvokeRunner();  // runs what is queued, then joins
  InvokeRunner(const InvokeRunner&) = delete;
  InvokeRunner& operator=(const InvokeRunner&) = delete;

  void run(std::function<void()> work);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace sluice::runtime
