#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes/fake_clock.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, SleeperWakesOnlyWhenTimeIsAdvancedPastItsDeadline) {
  testing::FakeClock clock;
  std::atomic<bool> woke{false};
  std::jthread sleeper([&](std::stop_token stop) {
    EXPECT_TRUE(clock.sleepFor(10s, std::move(stop)));
    woke = true;
  });
  clock.waitForSleepers(1);
  clock.advance(9s);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(woke.load());
  clock.advance(1s);
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(FakeClockTest, StopRequestWakesSleeperEarly) {
  testing::FakeClock clock;
  std::atomic<int> result{-1};
  std::jthread sleeper([&](std::stop_token stop) { result = clock.sleepFor(1h, std::move(stop)) ? 1 : 0; });
  clock.waitForSleepers(1);
  sleeper.request_stop();
  sleeper.join();
  EXPECT_EQ(result.load(), 0);
}

TEST(FakeClockTest, WallTimeMovesWithMonotonicTime) {
  testing::FakeClock clock;
  auto before = clock.wallNow();
  clock.advance(90s);
  EXPECT_EQ(clock.wallNow() - before, 90s);
}

TEST(RealClockTest, SleepReturnsFalseWhenStopped) {
  std::stop_source source;
  source.request_stop();
  EXPECT_FALSE(realClock().sleepFor(1h, source.get_token()));
  std::stop_source running;
  auto start = realClock().now();
  EXPECT_TRUE(realClock().sleepFor(5ms, running.get_token()));
  EXPECT_GE(realClock().now() - start, 5ms);
}

}  // namespace
}  // namespace sluice
