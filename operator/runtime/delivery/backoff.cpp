#include "runtime/delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace sluice::runtime {

namespace {

BackoffPolicy clamped(BackoffPolicy policy) {
  policy.jitter = std::clamp(policy.jitter, 0.0, 1.0);
  policy.multiplier = std::max(policy.multiplier, 1.0);
  return policy;
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, uint64_t seed) : policy_(clamped(policy)), random_(seed) {}

std::chrono::milliseconds Backoff::delay(int retry) { return delay(retry, policy_); }

std::chrono::milliseconds Backoff::delay(int retry, BackoffPolicy policy) {
  policy = clamped(policy);
  double base = static_cast<double>(policy.initial.count()) * std::pow(policy.multiplier, std::max(retry - 1, 0));
  base = std::min(base, static_cast<double>(policy.maxDelay.count()));
  std::uniform_real_distribution<double> factor(1.0 - policy.jitter, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(base * factor(random_))));
}

}  // namespace sluice::runtime
