// ConfirmationPace: the commit stall threshold follows the broker's round trips.
#include "runtime/sources/confirmation_pace.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

constexpr Clock::TimePoint kStart = Clock::TimePoint{} + 1h;

TEST(ConfirmationPaceTest, WithoutConfirmationsTheFloorIsTheThreshold) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  EXPECT_EQ(pace.stallAfter(), 20ms);
}

TEST(ConfirmationPaceTest, QuickConfirmationsKeepTheFloor) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  for (int i = 0; i < 10; ++i) pace.confirmed(kStart + i * 10ms, kStart + i * 10ms + 3ms);
  EXPECT_EQ(pace.stallAfter(), 20ms);
}

// The loaded CI machine's broker confirmed in tens of milliseconds: a fixed
// 20 ms held ordinary dispatch there. Twice its slowest is not a stall.
TEST(ConfirmationPaceTest, ASlowBrokerRaisesTheThresholdToTwiceItsSlowestRoundTrip) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  pace.confirmed(kStart, kStart + 30ms);
  pace.confirmed(kStart + 40ms, kStart + 95ms);
  pace.confirmed(kStart + 100ms, kStart + 110ms);
  EXPECT_EQ(pace.stallAfter(), 110ms);
}

TEST(ConfirmationPaceTest, TheCeilingBoundsTheThreshold) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  pace.confirmed(kStart, kStart + 6s);  // a commit that waited out a rebalance
  EXPECT_EQ(pace.stallAfter(), 1000ms);
}

TEST(ConfirmationPaceTest, ASlowRoundTripCountsForOneToTwoWindows) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  pace.confirmed(kStart, kStart + 100ms);            // window 1 ends at +5.1 s
  pace.confirmed(kStart + 5200ms, kStart + 5203ms);  // window 2: the slow one still counts
  EXPECT_EQ(pace.stallAfter(), 200ms);
  pace.confirmed(kStart + 10300ms, kStart + 10303ms);  // window 3: forgotten
  EXPECT_EQ(pace.stallAfter(), 20ms);
}

TEST(ConfirmationPaceTest, AWindowWithoutConfirmationsForgetsThePace) {
  ConfirmationPace pace(20ms, 1000ms, 5000ms);
  pace.confirmed(kStart, kStart + 100ms);
  pace.confirmed(kStart + 60s, kStart + 60s + 3ms);  // idle for a minute
  EXPECT_EQ(pace.stallAfter(), 20ms);
}

}  // namespace
}  // namespace sluice::runtime
