// WorkQueue: the rate-limited, delaying work queue controllers pull keys from,
// with client-go's semantics:
//  - a key waiting in the queue is held once, however often it is added (dedupe);
//  - a key handed out by get() is "processing" until done(); it is never handed
//    to a second worker meanwhile, and if it was added again while processing
//    it is queued once more when done() is called;
//  - addAfter() holds a key back until the Clock passes its ready time (the
//    earliest ready time wins when a key is delayed twice);
//  - addRateLimited() delays by the RateLimiter (per-key backoff + overall bucket);
//  - shutDown() wakes every waiting get(); keys already queued are still handed
//    out, then get() returns std::nullopt. shutDownWithDrain() also waits until
//    every processing key is done().
// Thread-safe: any number of producers and workers. One internal thread moves
// delayed keys into the queue when their time comes.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>

#include "common/clock.h"
#include "reconcile/controller_metrics.h"
#include "reconcile/rate_limiter.h"

namespace sluice::reconcile {

class WorkQueue {
 public:
  // A null rateLimiter means defaultControllerRateLimiter(clock).
  explicit WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rateLimiter = nullptr);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, Clock::Duration delay);
  void addRateLimited(const std::string& key);
  // Clears the key's failure history (call after a successful reconcile).
  void forget(const std::string& key);
  int numRequeues(const std::string& key);

  // Blocks until a key is ready or the queue is shut down and empty (then nullopt).
  std::optional<std::string> get();
  // Marks a key handed out by get() as finished.
  void done(const std::string& key);

  void shutDown();
  void shutDownWithDrain();
  bool shuttingDown() const;

  // Reports adds, depth and retries under `name` from now on; call before the
  // queue is used. `metrics` must outlive the queue.
  void setMetrics(ControllerMetrics* metrics, std::string name);

  // Keys ready to hand out now (not counting delayed or processing keys).
  size_t length() const;
  // Keys waiting for their delay.
  size_t delayedLength() const;

 private:
  void delayLoop(std::stop_token stop);
  void addLocked(const std::string& key);

  Clock& clock_;
  std::unique_ptr<RateLimiter> rateLimiter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;         // workers: the queue is not empty, or shutdown
  std::condition_variable drainedCv_;  // shutDownWithDrain(): nothing is being processed any more
  std::condition_variable delayedCv_;  // the delay thread waits here when nothing is delayed
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::map<std::string, Clock::TimePoint> delayed_;            // key -> earliest ready time
  std::set<std::pair<Clock::TimePoint, std::string>> byTime_;  // the same entries, soonest first
  std::stop_source sleepInterrupt_;                            // wakes the delay thread's clock sleep
  bool shuttingDown_ = false;
  ControllerMetrics* metrics_ = nullptr;  // set before use, then read-only
  std::string metricsName_;
  std::jthread delayThread_;
};

}  // namespace sluice::reconcile
