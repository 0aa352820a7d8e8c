#include "runtime/sources/partition_tracker.h"

namespace sluice::runtime {

void PartitionTracker::dispatched(int64_t offset) { pending_.emplace(offset, false); }

std::optional<int64_t> PartitionTracker::finished(int64_t offset) {
  auto it = pending_.find(offset);
  if (it == pending_.end()) return std::nullopt;  // already below the watermark (a duplicate completion)
  it->second = true;
  std::optional<int64_t> before = commitPosition_;
  while (!pending_.empty() && pending_.begin()->second) {
    commitPosition_ = pending_.begin()->first + 1;
    pending_.erase(pending_.begin());
  }
  if (commitPosition_ != before) return commitPosition_;
  return std::nullopt;
}

}  // namespace sluice::runtime
