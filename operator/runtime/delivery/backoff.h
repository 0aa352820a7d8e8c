// Backoff: the delay before retry attempt N, exponential with jitter.
//
// delay(n) = min(maxDelay, initial * multiplier^(n-1)), then scaled down by a
// random factor in [1 - jitter, 1] so replicas that failed together do not
// retry together. Not thread-safe (holds its random generator): one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sluice::runtime {

struct BackoffPolicy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds maxDelay{10000};
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction of the delay that is randomised, 0..1
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy, uint64_t seed = std::random_device{}());

  // Delay before retry number `retry` (1 = the first retry).
  std::chrono::milliseconds delay(int retry);
  // The same under another policy (a trigger's own), with this generator's jitter.
  std::chrono::milliseconds delay(int retry, BackoffPolicy policy);

 private:
  BackoffPolicy policy_;
  std::mt19937_64 random_;
};

}  // namespace sluice::runtime
