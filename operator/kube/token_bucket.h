// TokenBucket: a client-side request-rate limit (QPS with a burst), like
// golang.org/x/time/rate as used by client-go.
//
// reserve() takes one token now and returns how long the caller must wait
// before acting on it, so callers never hold a lock while sleeping and time is
// read only from the injected Clock. Thread-safe.
#pragma once

#include <mutex>

#include "common/clock.h"

namespace sluice::kube {

class TokenBucket {
 public:
  // qps <= 0 disables the limit (every reservation is immediate).
  TokenBucket(Clock& clock, double qps, int burst);

  // Takes a token (possibly one not yet earned) and returns the wait before it is earned.
  Clock::Duration reserve();
  // Takes a token only if one is available now.
  bool tryTake();

 private:
  Clock& clock_;
  const double qps_;
  const double burst_;
  std::mutex mu_;
  double tokens_;          // may go negative: tokens already promised to waiters
  Clock::TimePoint last_;  // when tokens_ was last brought up to date
};

}  // namespace sluice::kube
