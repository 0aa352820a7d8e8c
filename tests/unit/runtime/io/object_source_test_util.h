// Helpers shared by the unit tests of the claiming object sources (DirSource,
// S3Source, WebHdfsSource): a dispatcher that records what the source hands out
// and lets the test decide when each event completes, the scripted HTTP
// requests in a readable form, and a bounded wait.
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

// One event a source handed out, with the callback that settles it.
struct Dispatched {
  Event event;
  CompletionCallback done;
};

class RecordingDispatcher final : public EventDispatcher {
 public:
  bool waitForCapacity(std::chrono::milliseconds) override { return true; }
  void dispatch(Event event, std::string, std::string, CompletionCallback done) override {
    std::lock_guard lock(mu_);
    dispatched_.push_back({std::move(event), std::move(done)});
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return dispatched_.size();
  }
  // Copies, so a test settles events outside the lock (the source may dispatch again from the callback).
  Dispatched take(size_t i) {
    std::lock_guard lock(mu_);
    return dispatched_.at(i);
  }
  std::vector<Dispatched> all() {
    std::lock_guard lock(mu_);
    return dispatched_;
  }
  Event event(size_t i) { return take(i).event; }
  void complete(size_t i, Outcome outcome) { take(i).done(outcome); }

 private:
  std::mutex mu_;
  std::vector<Dispatched> dispatched_;
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
