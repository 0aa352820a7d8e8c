#include "kube/token_bucket.h"

#include <algorithm>
#include <chrono>

namespace sluice::kube {

TokenBucket::TokenBucket(Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(clock.now()) {}

Clock::Duration TokenBucket::reserve() {
  if (qps_ <= 0) return Clock::Duration::zero();
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

bool TokenBucket::tryTake() {
  if (qps_ <= 0) return true;
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace sluice::kube
