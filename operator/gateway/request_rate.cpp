#include "gateway/request_rate.h"

namespace sluice::gateway {

int64_t RequestRate::bucketOf(Clock::TimePoint at) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() / kBucket.count();
}

void RequestRate::prune(int64_t nowBucket) {
  const int64_t oldest = nowBucket - window_.count() / kBucket.count();  // buckets at or before it are out
  while (!buckets_.empty() && buckets_.front().first <= oldest) buckets_.pop_front();
}

void RequestRate::record(Clock::TimePoint now) {
  const int64_t bucket = bucketOf(now);
  prune(bucket);
  if (!buckets_.empty() && buckets_.back().first == bucket) {
    ++buckets_.back().second;
  } else {
    buckets_.emplace_back(bucket, 1);
  }
}

double RequestRate::perSecond(Clock::TimePoint now) {
  prune(bucketOf(now));
  int64_t arrivals = 0;
  for (const auto& [bucket, count] : buckets_) arrivals += count;
  return static_cast<double>(arrivals) / std::chrono::duration<double>(window_).count();
}

}  // namespace sluice::gateway
