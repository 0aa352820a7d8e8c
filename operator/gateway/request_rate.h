// RequestRate: a Function's arrivals per second over a trailing window, for
// the autoscaler's requests-per-second target. Counts in 100 ms buckets, so
// memory is bounded by the window whatever the rate. Time comes from the
// caller (the Dispatcher's Clock). Thread-compatible: the Dispatcher guards it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

#include "common/clock.h"

namespace sluice::gateway {

class RequestRate {
 public:
  explicit RequestRate(std::chrono::milliseconds window) : window_(window) {}

  void record(Clock::TimePoint now);
  // Arrivals within (now - window, now] divided by the window in seconds.
  double perSecond(Clock::TimePoint now);

 private:
  static constexpr std::chrono::milliseconds kBucket{100};
  int64_t bucketOf(Clock::TimePoint at) const;
  void prune(int64_t nowBucket);

  std::chrono::milliseconds window_;
  std::deque<std::pair<int64_t, int64_t>> buckets_;  // (bucket index, arrivals), oldest first
};

}  // namespace sluice::gateway
