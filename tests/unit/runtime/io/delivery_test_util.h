#pragma once
// Shared by the DeliveryLoop unit tests: a completion collector, a bounded poll,
// a canonical Kafka-like event and delivery options with short backoffs.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/delivery/delivery_loop.h"

namespace sluice::runtime {

// Collects completions; tests wait on it (the real-time bound only guards against hangs).
class Completions {
 public:
  CompletionCallback callbackFor(const std::string& id) {
    return [this, id](Outcome outcome) {
      std::lock_guard lock(mu_);
      outcomes_[id] = outcome;
      order_.push_back(id);
      cv_.notify_all();
    };
  }
  bool waitFor(size_t count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return order_.size() >= count; });
  }
  std::map<std::string, Outcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  std::optional<Outcome> of(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = outcomes_.find(id);
    if (it == outcomes_.end()) return std::nullopt;
    return it->second;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return order_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Outcome> outcomes_;
  std::vector<std::string> order_;
};

// Polls until `done` holds (bounded, to turn a hang into a failure).
template <typename Predicate>
bool waitUntil(Predicate done) {
  for (int i = 0; i < 20000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

inline Event makeEvent(const std::string& id, int32_t partition = 0, int64_t offset = 0) {
  Event event;
  event.id = id;
  event.source = "kafka";
  event.subject = "orders";
  event.key = "key-" + id;
  event.partition = partition;
  event.offset = offset;
  event.headers = {{"h", "v"}};
  event.data = "payload-" + id;
  return event;
}

inline DeliveryOptions fastOptions() {
  DeliveryOptions options;
  options.functionName = "fn";
  options.workers = 4;
  options.maxAttempts = 3;
  options.backoff.initial = std::chrono::milliseconds(100);
  options.backoff.maxDelay = std::chrono::milliseconds(1000);
  options.backoff.jitter = 0;
  options.handlerTimeout = std::chrono::seconds(5);
  return options;
}

}  // namespace sluice::runtime
