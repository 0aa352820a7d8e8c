#include "reconcile/rate_limiter.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

TEST(ItemExponentialRateLimiterTest, DoublesFrom5msTo1000sPerKey) {
  ItemExponentialRateLimiter limiter(5ms, 1000s);
  EXPECT_EQ(limiter.when("a"), 5ms);
  EXPECT_EQ(limiter.when("a"), 10ms);
  EXPECT_EQ(limiter.when("a"), 20ms);
  EXPECT_EQ(limiter.when("b"), 5ms);  // keys are independent
  EXPECT_EQ(limiter.numRequeues("a"), 3);
  for (int i = 0; i < 14; ++i) (void)limiter.when("a");
  // 5 ms * 2^17 = 655.36 s; the next doubling passes 1000 s and is capped.
  EXPECT_EQ(limiter.when("a"), 655360ms);
  EXPECT_EQ(limiter.when("a"), 1000s);
  for (int i = 0; i < 5000; ++i) (void)limiter.when("a");  // no overflow after many failures
  EXPECT_EQ(limiter.when("a"), 1000s);
  limiter.forget("a");
  EXPECT_EQ(limiter.numRequeues("a"), 0);
  EXPECT_EQ(limiter.when("a"), 5ms);
}

TEST(BucketRateLimiterTest, BurstOf100ThenTenPerSecond) {
  FakeClock clock;
  BucketRateLimiter limiter(clock, 10, 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(limiter.when("k" + std::to_string(i)), 0ms) << i;
  EXPECT_EQ(limiter.when("x"), 100ms);
  EXPECT_EQ(limiter.when("y"), 200ms);
  clock.advance(1s);  // 10 tokens earned, 2 of them already promised
  for (int i = 0; i < 8; ++i) ASSERT_EQ(limiter.when("z"), 0ms) << i;
  EXPECT_EQ(limiter.when("z"), 100ms);
}

TEST(BucketRateLimiterTest, RefillsNoMoreThanTheBurst) {
  FakeClock clock;
  BucketRateLimiter limiter(clock, 10, 100);
  clock.advance(1h);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(limiter.when("k"), 0ms);
  EXPECT_GT(limiter.when("k"), 0ms);
}

TEST(DefaultControllerRateLimiterTest, TakesTheLongerOfBackoffAndBucket) {
  FakeClock clock;
  auto limiter = defaultControllerRateLimiter(clock);
  EXPECT_EQ(limiter->when("a"), 5ms);
  EXPECT_EQ(limiter->when("a"), 10ms);
  // Drain the bucket with other keys: the bucket's delay then dominates a fresh key's 5 ms.
  for (int i = 0; i < 98; ++i) (void)limiter->when("other" + std::to_string(i));
  EXPECT_EQ(limiter->when("fresh"), 100ms);
  EXPECT_EQ(limiter->numRequeues("a"), 2);
  limiter->forget("a");
  EXPECT_EQ(limiter->numRequeues("a"), 0);
}

}  // namespace
}  // namespace sluice::reconcile
