// RateLimiter: decides how long a failed work-queue key waits before its next
// try (client-go's workqueue.RateLimiter).
//
// The default limiter is the maximum of a per-key exponential backoff (5 ms
// doubling up to 1000 s) and an overall token bucket (10 qps, burst 100), the
// same as client-go's DefaultControllerRateLimiter. All implementations are
// thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "kube/token_bucket.h"

namespace sluice::reconcile {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Records one more failure of `key` and returns how long to wait before retrying it.
  virtual Clock::Duration when(const std::string& key) = 0;
  // Forgets the failures of `key` (it succeeded); the next when() starts from the base delay.
  virtual void forget(const std::string& key) = 0;
  // How many times `key` has failed since it was last forgotten.
  virtual int numRequeues(const std::string& key) = 0;
};

// base * 2^failures, capped at maxDelay.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Clock::Duration baseDelay, Clock::Duration maxDelay);
  Clock::Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int numRequeues(const std::string& key) override;

 private:
  const Clock::Duration base_;
  const Clock::Duration max_;
  std::mutex mu_;
  std::map<std::string, int> failures_;
};

// One bucket for all keys: bounds the overall retry rate, whatever the key.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(Clock& clock, double qps, int burst) : bucket_(clock, qps, burst) {}
  Clock::Duration when(const std::string&) override { return bucket_.reserve(); }
  void forget(const std::string&) override {}
  int numRequeues(const std::string&) override { return 0; }

 private:
  kube::TokenBucket bucket_;
};

// The longest wait any of its limiters asks for.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters) : limiters_(std::move(limiters)) {}
  Clock::Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int numRequeues(const std::string& key) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// 5 ms doubling to 1000 s per key, plus 10 qps / burst 100 overall.
std::unique_ptr<RateLimiter> defaultControllerRateLimiter(Clock& clock);

}  // namespace sluice::reconcile
