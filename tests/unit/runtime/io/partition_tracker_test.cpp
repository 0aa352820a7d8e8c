// PartitionTracker: commits never pass an unfinished offset.
#include "runtime/sources/partition_tracker.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

TEST(PartitionTrackerTest, CommitsOnlyTheContiguousFinishedPrefix) {
  PartitionTracker tracker;
  for (int64_t offset = 10; offset < 15; ++offset) tracker.dispatched(offset);
  EXPECT_EQ(tracker.commitPosition(), std::nullopt);
  EXPECT_EQ(tracker.finished(12), std::nullopt);  // 10 and 11 still running
  EXPECT_EQ(tracker.finished(11), std::nullopt);
  EXPECT_EQ(tracker.commitPosition(), std::nullopt);
  EXPECT_EQ(tracker.finished(10), 13);  // 10, 11, 12 done -> next to read is 13
  EXPECT_EQ(tracker.outstanding(), 2u);
  EXPECT_EQ(tracker.finished(14), std::nullopt);
  EXPECT_EQ(tracker.finished(13), 15);
  EXPECT_EQ(tracker.outstanding(), 0u);
}

TEST(PartitionTrackerTest, HandlesGapsInOffsetsAndDuplicateCompletions) {
  PartitionTracker tracker;
  tracker.dispatched(3);
  tracker.dispatched(7);  // compacted topic: 4..6 do not exist
  EXPECT_EQ(tracker.finished(3), 4);
  EXPECT_EQ(tracker.finished(3), std::nullopt);
  EXPECT_EQ(tracker.finished(7), 8);
  EXPECT_EQ(tracker.commitPosition(), 8);
}

}  // namespace
}  // namespace sluice::runtime
