#include "runtime/delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace sluice::runtime {

Backoff::Backoff(BackoffPolicy policy, uint64_t seed) : policy_(policy), random_(seed) {
  policy_.jitter = std::clamp(policy_.jitter, 0.0, 1.0);
  policy_.multiplier = std::max(policy_.multiplier, 1.0);
}

std::chrono::milliseconds Backoff::delay(int retry) {
  double base = static_cast<double>(policy_.initial.count()) * std::pow(policy_.multiplier, std::max(retry - 1, 0));
  base = std::min(base, static_cast<double>(policy_.maxDelay.count()));
  std::uniform_real_distribution<double> factor(1.0 - policy_.jitter, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(base * factor(random_))));
}

}  // namespace sluice::runtime
