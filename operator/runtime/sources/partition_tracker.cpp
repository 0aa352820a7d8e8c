#include "runtime/sources/partition_tracker.h"

#include <algorithm>

namespace sluice::runtime {

void PartitionTracker::dispatched(int64_t offset) {
  if (!pending_.empty() && offset <= pending_.back().first) return;  // already tracked (a redelivery)
  pending_.emplace_back(offset, false);
}

std::optional<int64_t> PartitionTracker::finished(int64_t offset) {
  auto it = std::lower_bound(pending_.begin(), pending_.end(), offset,
                             [](const std::pair<int64_t, bool>& entry, int64_t value) { return entry.first < value; });
  if (it == pending_.end() || it->first != offset) return std::nullopt;  // already below the watermark (a duplicate)
  it->second = true;
  std::optional<int64_t> before = commitPosition_;
  while (!pending_.empty() && pending_.front().second) {
    commitPosition_ = pending_.front().first + 1;
    pending_.pop_front();
  }
  if (commitPosition_ != before) return commitPosition_;
  return std::nullopt;
}

}  // namespace sluice::runtime
