// ActivationFeed: tells the operator, the moment it happens, that a Function
// has a request waiting at this gateway and no replica to take it, so the
// autoscaler wakes the Function at once instead of at its next at-zero poll of
// /loads. Served as a long poll on the admin listener (next to /loads, and as
// open as it: it names Functions, nothing more):
//   GET /activations?instance=<id>&after=<sequence>&waitSeconds=<n>
// answers {"instance","sequence","functions":[{"namespace","name"}]}:
//   - at once, with the Functions raised after `after`, when there are some;
//   - at once, with the Functions waiting now (the Dispatcher's), when
//     `instance` is not this feed's (a first call, a restarted gateway) or
//     `after` is older than what the feed still remembers: a watcher that
//     missed events starts from the present instead;
//   - else as soon as a Function is raised, or with none after waitSeconds.
// A watcher passes the instance and sequence of each answer to its next call.
// Every raise moves the sequence on; a Function raised twice is listed once.
// Time comes from the Clock; tick() ends the waits whose time is up.
// Thread-safe; answers run without the lock held.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::gateway {

struct Activations {
  std::string instance;
  uint64_t sequence = 0;
  std::vector<std::string> keys;  // namespace/name, sorted
};

// A /activations request's query.
struct ActivationQuery {
  std::string instance;
  uint64_t after = 0;
  std::chrono::seconds wait{25};
};

struct ActivationFeedOptions {
  std::chrono::seconds maxWait{60};  // a longer waitSeconds is cut to this
  // A Function raised longer ago is forgotten (the map stays bounded); a
  // watcher asking from before that gets the present (the Dispatcher's queues).
  std::chrono::minutes memory{5};
};

class ActivationFeed {
 public:
  // `waitingNow`: the Functions with a request waiting and no replica (the Dispatcher's).
  ActivationFeed(ActivationFeedOptions options, Clock& clock, std::string instance,
                 std::function<std::vector<std::string>()> waitingNow);
  ~ActivationFeed();

  // A request for `key` is queued and the Function has no replica.
  void raise(const std::string& key);
  // Answers `answer` once, as the header says.
  void wait(const ActivationQuery& query, std::function<void(Activations)> answer);
  // Answers the waits whose time is up (with no Function); forgets old raises.
  void tick();
  // Answers every wait now (the gateway is stopping); later waits are answered at once.
  void shutdown();

  const std::string& instance() const { return instance_; }
  bool stopped() const;
  std::size_t waiters() const;

 private:
  struct Waiter {
    uint64_t after;
    Clock::TimePoint deadline;
    std::function<void(Activations)> answer;
  };
  struct Raised {
    uint64_t sequence;
    Clock::TimePoint at;
  };
  // The Functions raised after `after`. Caller holds mu_.
  Activations raisedAfterLocked(uint64_t after) const;

  const ActivationFeedOptions options_;
  Clock& clock_;
  const std::string instance_;
  std::function<std::vector<std::string>()> waitingNow_;
  mutable std::mutex mu_;
  uint64_t sequence_ = 0;                 // guarded by mu_
  uint64_t forgottenThrough_ = 0;         // raises up to this sequence are forgotten; guarded by mu_
  std::map<std::string, Raised> raised_;  // by key; guarded by mu_
  std::vector<Waiter> waiters_;           // guarded by mu_
  bool stopped_ = false;                  // guarded by mu_
};

// The query of a /activations target ("/activations?after=3&instance=ab&waitSeconds=25");
// an error names the bad parameter.
Result<ActivationQuery> activationQueryFrom(const std::string& target);
// The answer's JSON document.
std::string activationsJson(const Activations& activations);

}  // namespace sluice::gateway
