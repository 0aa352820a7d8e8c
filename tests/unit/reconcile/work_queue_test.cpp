#include "reconcile/work_queue.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

TEST(WorkQueueTest, DedupesKeysWaitingInTheQueue) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/a");
  EXPECT_EQ(queue.length(), 2u);
  EXPECT_EQ(queue.get(), "ns/a");
  EXPECT_EQ(queue.get(), "ns/b");
  EXPECT_EQ(queue.length(), 0u);
}

TEST(WorkQueueTest, KeyBeingProcessedIsNotHandedToASecondWorker) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  auto first = queue.get();
  ASSERT_EQ(first, "ns/a");
  queue.add("ns/a");  // re-added while in flight
  queue.add("ns/b");
  EXPECT_EQ(queue.length(), 1u);
  EXPECT_EQ(queue.get(), "ns/b");  // not ns/a: it is still processing
  EXPECT_EQ(queue.length(), 0u);
  queue.done("ns/a");
  // ...and it runs once more after done().
  EXPECT_EQ(queue.length(), 1u);
  EXPECT_EQ(queue.get(), "ns/a");
  queue.done("ns/a");
  queue.done("ns/b");
  EXPECT_EQ(queue.length(), 0u);
}

TEST(WorkQueueTest, KeyReAddedManyTimesWhileInFlightRunsExactlyOnceMore) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("k");
  ASSERT_EQ(queue.get(), "k");
  for (int i = 0; i < 10; ++i) queue.add("k");
  queue.done("k");
  ASSERT_EQ(queue.get(), "k");
  queue.done("k");
  EXPECT_EQ(queue.length(), 0u);
}

TEST(WorkQueueTest, ConcurrentWorkersNeverHoldTheSameKey) {
  FakeClock clock;
  WorkQueue queue(clock);
  std::atomic<int> inFlight{0};
  std::atomic<int> maxInFlight{0};
  std::atomic<int> processed{0};
  std::vector<std::jthread> workers;
  workers.reserve(4);
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        int now = ++inFlight;
        int seen = maxInFlight.load();
        while (now > seen && !maxInFlight.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(1ms);
        --inFlight;
        ++processed;
        queue.done(*key);
      }
    });
  }
  for (int i = 0; i < 200; ++i) queue.add("same");
  // Wait until the queue is idle, then stop.
  while (queue.length() > 0) std::this_thread::sleep_for(1ms);
  queue.shutDownWithDrain();
  workers.clear();
  EXPECT_EQ(maxInFlight.load(), 1);
  EXPECT_GE(processed.load(), 1);
  EXPECT_LE(processed.load(), 200);
}

TEST(WorkQueueTest, DelayedAddAppearsOnlyWhenTheClockPassesItsTime) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("later", 10s);
  clock.waitForSleepers(1);
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(queue.delayedLength(), 1u);
  clock.advance(9s);
  clock.waitForSleepers(1);
  EXPECT_EQ(queue.length(), 0u);
  clock.advance(1s);
  EXPECT_EQ(queue.get(), "later");
  EXPECT_EQ(queue.delayedLength(), 0u);
}

TEST(WorkQueueTest, EarlierDelayWinsAndKeyIsQueuedOnce) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("k", 60s);
  clock.waitForSleepers(1);
  queue.addAfter("k", 5s);   // interrupts the 60 s sleep
  queue.addAfter("k", 30s);  // later than the 5 s one: ignored
  clock.waitForSleepers(1);
  clock.advance(5s);
  EXPECT_EQ(queue.get(), "k");
  queue.done("k");
  EXPECT_EQ(queue.delayedLength(), 0u);
  clock.advance(60s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(queue.length(), 0u);
}

// Many delayed keys (one per Function of a large operator): each comes out when its own time
// comes, in deadline order, whatever order they were added in.
TEST(WorkQueueTest, ManyDelayedKeysComeOutInDeadlineOrder) {
  FakeClock clock;
  WorkQueue queue(clock);
  for (int i = 0; i < 50; ++i) queue.addAfter("k" + std::to_string(i), std::chrono::seconds(1 + (i * 7) % 50));
  EXPECT_EQ(queue.delayedLength(), 50u);
  std::vector<std::string> order;
  for (int second = 1; second <= 50; ++second) {
    clock.waitForSleepers(1);
    clock.advance(1s);
    std::optional<std::string> key = queue.get();
    ASSERT_TRUE(key.has_value()) << "second " << second;
    order.push_back(*key);
    queue.done(*key);
    EXPECT_EQ(queue.delayedLength(), static_cast<size_t>(50 - second));
  }
  std::vector<std::string> expected(50);
  for (int i = 0; i < 50; ++i) expected[(i * 7) % 50] = "k" + std::to_string(i);
  EXPECT_EQ(order, expected);
}

TEST(WorkQueueTest, ZeroDelayAddsAtOnce) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("now", 0s);
  EXPECT_EQ(queue.length(), 1u);
}

TEST(WorkQueueTest, RateLimitedAddsBackOffExponentiallyPerKey) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addRateLimited("k");  // 5 ms
  clock.waitForSleepers(1);
  clock.advance(4ms);
  clock.waitForSleepers(1);
  EXPECT_EQ(queue.length(), 0u);
  clock.advance(1ms);
  ASSERT_EQ(queue.get(), "k");
  queue.done("k");
  queue.addRateLimited("k");  // 10 ms
  clock.waitForSleepers(1);
  clock.advance(9ms);
  clock.waitForSleepers(1);
  EXPECT_EQ(queue.length(), 0u);
  clock.advance(1ms);
  ASSERT_EQ(queue.get(), "k");
  queue.done("k");
  EXPECT_EQ(queue.numRequeues("k"), 2);
  queue.forget("k");
  EXPECT_EQ(queue.numRequeues("k"), 0);
}

TEST(WorkQueueTest, ShutDownWakesWaitingWorkersAndStillHandsOutQueuedKeys) {
  FakeClock clock;
  WorkQueue queue(clock);
  auto waiter = std::async(std::launch::async, [&] { return queue.get(); });
  std::this_thread::sleep_for(10ms);
  queue.shutDown();
  EXPECT_EQ(waiter.get(), std::nullopt);

  WorkQueue second(clock);
  second.add("a");
  second.shutDown();
  second.add("b");  // refused after shutdown
  EXPECT_EQ(second.get(), "a");
  EXPECT_EQ(second.get(), std::nullopt);
  EXPECT_TRUE(second.shuttingDown());
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForProcessingKeys) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  std::atomic<bool> drained{false};
  std::jthread stopper([&] {
    queue.shutDownWithDrain();
    drained = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(drained.load());
  queue.done("a");
  stopper.join();
  EXPECT_TRUE(drained.load());
}

}  // namespace
}  // namespace sluice::reconcile
