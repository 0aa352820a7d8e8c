#include "reconcile/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice::reconcile {

ItemExponentialRateLimiter::ItemExponentialRateLimiter(Clock::Duration baseDelay, Clock::Duration maxDelay)
    : base_(baseDelay), max_(maxDelay) {}

Clock::Duration ItemExponentialRateLimiter::when(const std::string& key) {
  std::lock_guard lock(mu_);
  int exponent = failures_[key]++;
  // Computed in floating point so a key that failed thousands of times cannot overflow.
  double delay = static_cast<double>(base_.count()) * std::pow(2.0, exponent);
  if (delay >= static_cast<double>(max_.count())) return max_;
  return Clock::Duration(static_cast<Clock::Duration::rep>(delay));
}

void ItemExponentialRateLimiter::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int ItemExponentialRateLimiter::numRequeues(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

Clock::Duration MaxOfRateLimiter::when(const std::string& key) {
  Clock::Duration longest = Clock::Duration::zero();
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->when(key));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& key) {
  for (auto& limiter : limiters_) limiter->forget(key);
}

int MaxOfRateLimiter::numRequeues(const std::string& key) {
  int most = 0;
  for (auto& limiter : limiters_) most = std::max(most, limiter->numRequeues(key));
  return most;
}

std::unique_ptr<RateLimiter> defaultControllerRateLimiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(
      std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5), std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(clock, 10.0, 100));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace sluice::reconcile
