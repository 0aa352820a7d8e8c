// PartitionTracker: the commit watermark of one Kafka partition.
//
// Offsets are handed out in increasing order and finish in any order; the
// offset safe to commit is one past the longest prefix of finished offsets,
// so a commit never covers an event that is still being processed, even when
// later events of the partition finished first. Not thread-safe: owned by the
// consumer thread. Offsets live in a deque in dispatch order (increasing), so
// dispatching and finishing in order cost no allocation per offset.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace sluice::runtime {

class PartitionTracker {
 public:
  // Records that `offset` was dispatched. Offsets must increase.
  void dispatched(int64_t offset);

  // Marks `offset` finished. Returns the new commit position when it moved.
  std::optional<int64_t> finished(int64_t offset);

  // The next offset to consume after a restart (what Kafka commits), or
  // nullopt while nothing has finished.
  std::optional<int64_t> commitPosition() const { return commitPosition_; }

  size_t outstanding() const { return pending_.size(); }

 private:
  std::deque<std::pair<int64_t, bool>> pending_;  // dispatched offsets not yet below the watermark, finished?
  std::optional<int64_t> commitPosition_;
};

}  // namespace sluice::runtime
