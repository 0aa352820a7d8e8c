// Helpers shared by the unit tests of the claiming object sources (S3Source,
// WebHdfsSource), which drive a source through scripted HTTP answers: a
// dispatcher that records what the source hands out and lets the test decide
// when each event completes, the requests in a readable form, and a bounded wait.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

class RecordingDispatcher final : public EventDispatcher {
 public:
  bool waitForCapacity(std::chrono::milliseconds) override { return true; }
  void dispatch(Event event, std::string, std::string, CompletionCallback done) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
    callbacks_.push_back(std::move(done));
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  Event event(size_t i) {
    std::lock_guard lock(mu_);
    return events_.at(i);
  }
  // Completes the i-th event (outside the lock: the source may dispatch again from the callback).
  void complete(size_t i, Outcome outcome) {
    CompletionCallback done;
    {
      std::lock_guard lock(mu_);
      done = callbacks_.at(i);
    }
    done(outcome);
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
  std::vector<CompletionCallback> callbacks_;
};

// Each request as `describe` writes it, in order.
inline std::vector<std::string> describeAll(const std::vector<http::Request>& requests,
                                            const std::function<std::string(const http::Request&)>& describe) {
  std::vector<std::string> out;
  out.reserve(requests.size());
  for (const auto& r : requests) out.push_back(describe(r));
  return out;
}

// Waits up to ~5 s (turning a hang into a failure) until `done` holds.
template <typename Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 5000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

}  // namespace sluice::runtime
