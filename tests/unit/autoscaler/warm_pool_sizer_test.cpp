// Warm-pool sizing on a fake clock: no cold starts keep the floor, a burst
// grows the pool to it (bounded by the ceiling), it decays as the burst
// leaves the window, and a Function's own size is a floor.
#include "autoscaler/warm_pool_sizer.h"

#include <gtest/gtest.h>

namespace sluice::autoscaler {
namespace {

Clock::TimePoint at(double seconds) {
  return Clock::TimePoint{} + std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(seconds));
}

WarmPoolSizing sizing() {
  WarmPoolSizing s;
  s.windowSeconds = 60;
  s.podStartSeconds = 10;
  s.floor = 1;
  s.ceiling = 8;
  return s;
}

TEST(WarmPoolSizerTest, NoColdStartsKeepTheFloor) {
  WarmPoolSizer sizer(sizing());
  EXPECT_EQ(sizer.size(at(0)), 1);
  EXPECT_EQ(sizer.size(at(3600)), 1);
  EXPECT_DOUBLE_EQ(sizer.startsPerMinute(at(3600)), 0);
  EXPECT_FALSE(sizer.decaying());
}

TEST(WarmPoolSizerTest, ABurstGrowsThePoolToItThenItDecays) {
  WarmPoolSizer sizer(sizing());
  // Two Functions wake: 3 starts at t=100 and 2 at t=104, within one 10 s pod start; one more at t=120.
  sizer.recordStarts(3, 1, at(100));
  sizer.recordStarts(2, 0, at(104));
  sizer.recordStarts(1, 1, at(120));
  EXPECT_EQ(sizer.size(at(121)), 5);
  EXPECT_DOUBLE_EQ(sizer.startsPerMinute(at(121)), 6);
  EXPECT_EQ(sizer.startsTotal(), 6);
  EXPECT_EQ(sizer.warmTotal(), 2);
  // Starts 10 s apart or more are not one run: 104 and 120 never ask for 3.
  // The burst leaves the 60 s window a start at a time.
  EXPECT_EQ(sizer.size(at(160)), 2);  // t=100 gone: 104's 2
  EXPECT_EQ(sizer.size(at(164)), 1);  // t=104 gone: 120's 1, the floor anyway
  EXPECT_TRUE(sizer.decaying());
  EXPECT_EQ(sizer.size(at(180)), 1);
  EXPECT_FALSE(sizer.decaying());
  EXPECT_DOUBLE_EQ(sizer.startsPerMinute(at(180)), 0);
}

TEST(WarmPoolSizerTest, TheCeilingBoundsABigBurst) {
  WarmPoolSizer sizer(sizing());
  for (int i = 0; i < 60; ++i) sizer.recordStarts(10, 0, at(i));  // 100 within a pod start
  EXPECT_EQ(sizer.size(at(60)), 8);
}

TEST(WarmPoolSizerTest, AFunctionsOwnSizeIsAFloor) {
  WarmPoolSizer sizer(sizing());
  EXPECT_EQ(sizer.size(at(0), 3), 3);
  sizer.recordStarts(10, 0, at(0));
  EXPECT_EQ(sizer.size(at(1), 3), 8);
  EXPECT_EQ(sizer.size(at(1), 9), 9);  // above the ceiling too: the Function asked for it
}

TEST(WarmPoolSizerTest, CeilingZeroTurnsDemandSizingOff) {
  WarmPoolSizing off = sizing();
  off.floor = 0;
  off.ceiling = 0;
  WarmPoolSizer sizer(off);
  sizer.recordStarts(60, 0, at(0));
  EXPECT_EQ(sizer.size(at(1)), 0);
  EXPECT_EQ(sizer.size(at(1), 2), 2);  // the fixed per-Function size, as before
}

TEST(WarmPoolSizerTest, SettingsThatCannotSizeAPoolAreRefusedNamingTheField) {
  std::string error;
  WarmPoolSizing s = sizing();
  s.ceiling = 0;
  EXPECT_TRUE(validWarmPoolSizing(s, &error));
  s.ceiling = 2;
  s.floor = 3;
  EXPECT_FALSE(validWarmPoolSizing(s, &error));
  EXPECT_EQ(error, "--warm-pool-ceiling: 2 is below --warm-pool-floor 3");
  s = sizing();
  s.windowSeconds = 0;
  EXPECT_FALSE(validWarmPoolSizing(s, &error));
  EXPECT_EQ(error.rfind("--warm-pool-window-seconds: ", 0), 0U) << error;
}

}  // namespace
}  // namespace sluice::autoscaler
