#include "runtime/control/invoke_limits.h"

#include <algorithm>
#include <string>

namespace sluice::runtime {

InvokeLimits::InvokeLimits(InvokeLimitOptions options) : options_(std::move(options)) {}

InvokeLimits::Slot::Slot(InvokeLimits* limits)
    : release_(limits, [](InvokeLimits* owner) {
        std::lock_guard lock(owner->mu_);
        --owner->inUse_;
      }) {}

std::variant<InvokeLimits::Slot, http::ServerResponse> InvokeLimits::admit(std::optional<std::uint64_t> contentLength) {
  if (contentLength && *contentLength > options_.maxBodyBytes) return bodyTooLarge();
  {
    std::lock_guard lock(mu_);
    if (inUse_ < options_.maxConcurrent) {
      ++inUse_;
      return Slot(this);
    }
  }
  http::ServerResponse busy =
      http::textResponse(429, "Too Many Requests: " + std::to_string(options_.maxConcurrent) +
                                  " invocations are under way on this replica (the limit); retry after " +
                                  std::to_string(options_.retryAfter.count()) + " s\n");
  busy.headers.emplace_back("Retry-After", std::to_string(options_.retryAfter.count()));
  return busy;
}

http::ServerResponse InvokeLimits::bodyTooLarge() const {
  return http::textResponse(413, "Payload Too Large: the request body is over the limit of " +
                                     std::to_string(options_.maxBodyBytes) + " bytes\n");
}

int InvokeLimits::inUse() const {
  std::lock_guard lock(mu_);
  return inUse_;
}

InvokeRunner::InvokeRunner(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      while (true) {
        std::function<void()> work;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
          if (queue_.empty()) return;
          work = std::move(queue_.front());
          queue_.pop_front();
        }
        work();
      }
    });
  }
}

InvokeRunner::~InvokeRunner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void InvokeRunner::run(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

}  // namespace sluice::runtime
