// Bounded memory in the runtime: the in-flight byte budget (its rules and the
// delivery loop's gate), shedding, the memory watchdog on a fake clock and
// fake resident sizes, and /invoke admission (413, 429).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "delivery_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_sink.h"
#include "runtime/control/invoke_limits.h"
#include "runtime/delivery/delivery_loop.h"
#include "runtime/memory/in_flight_budget.h"
#include "runtime/memory/memory_watchdog.h"

namespace sluice::runtime {
namespace {

using sluice::testing::FakeClock;
using sluice::testing::FakeHandler;
using sluice::testing::FakeSink;
using namespace std::chrono_literals;

TEST(InFlightBudgetTest, AdmitsBelowBothLimitsAndOneOversizedEventWhenIdle) {
  InFlightBudget budget{10, 100};
  EXPECT_TRUE(budget.admits(0, 0));
  EXPECT_TRUE(budget.admits(9, 99));
  EXPECT_FALSE(budget.admits(9, 100));  // bytes full
  EXPECT_FALSE(budget.admits(10, 0));   // events full
  EXPECT_TRUE(budget.admits(0, 5000));  // nothing in flight: a huge event cannot wedge its source
  EXPECT_TRUE((InFlightBudget{10, 0}.admits(5, int64_t{1} << 40)));  // no byte limit
}

TEST(InFlightBudgetTest, SizesDefaultsFromTheMemoryLimit) {
  EXPECT_EQ(defaultInFlightBytes(1024), 256 * kMebibyte);    // a quarter
  EXPECT_EQ(defaultInFlightBytes(32), 16 * kMebibyte);       // at least 16 MiB
  EXPECT_EQ(defaultInFlightBytes(65536), 1024 * kMebibyte);  // at most 1 GiB
  EXPECT_EQ(defaultInFlightBytes(0), 256 * kMebibyte);       // unknown
  EXPECT_EQ(defaultDecompressBytes(512), 128 * kMebibyte);
}

TEST(InFlightBudgetTest, KafkaSharesAddUpToTheTriggerBudget) {
  KafkaBudgetShares shares = kafkaBudgetShares(64 * kMebibyte);
  EXPECT_EQ(shares.prefetchBytes, 8 * kMebibyte);
  EXPECT_EQ(shares.deliveryBytes, 48 * kMebibyte);
  // In flight (up to the gate), one fetch round (at most the prefetch queue) and the queue itself.
  EXPECT_EQ(shares.deliveryBytes + 2 * shares.prefetchBytes, 64 * kMebibyte);
}

TEST(InFlightBudgetTest, CountsPayloadKeyAndHeaders) {
  Event event;
  event.id = "t/0/1";                   // 5
  event.subject = "t";                  // 1
  event.key = "k";                      // 1
  event.headers = {{"name", "value"}};  // 9
  event.data = std::string(1000, 'x');  // 1000
  EXPECT_EQ(eventBytes(event), 1016);
}

// A handler that blocks until released, so events stay in flight.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> started{0};
  FakeHandler::Behaviour behaviour() {
    return [this](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
      ++started;
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return open; });
      Record record;
      record.value = event.id;
      return std::vector<Record>{record};
    };
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

Event bigEvent(const std::string& id, int32_t partition, size_t bytes) {
  Event event = makeEvent(id, partition, 0);
  event.data.assign(bytes, 'x');
  return event;
}

// A started delivery loop whose handler blocks on `gate`, writing to `out`.
struct GatedLoop {
  explicit GatedLoop(DeliveryOptions options)
      : handler(gate.behaviour()), loop(std::move(options), handler, {{"", &out}}, nullptr, metrics, clock) {
    loop.start();
  }
  Gate gate;
  FakeHandler handler;
  FakeSink out;
  RuntimeMetrics metrics;
  FakeClock clock;
  Completions completions;
  DeliveryLoop loop;
};

TEST(DeliveryLoopByteGateTest, HoldsIntakeBackWhileTheBytesInFlightReachTheBudget) {
  DeliveryOptions options = fastOptions();
  options.maxInFlight = 1000;                           // events are not the limit here
  options.maxInFlightBytes = int64_t{3} * 1024 * 1024;  // three 1 MiB events
  GatedLoop f(options);
  DeliveryLoop& loop = f.loop;
  Gate& gate = f.gate;
  Completions& completions = f.completions;
  EXPECT_TRUE(loop.waitForCapacity(0ms));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(loop.waitForCapacity(0ms)) << i;
    loop.dispatch(bigEvent("e" + std::to_string(i), i, size_t{1024} * 1024), "lane" + std::to_string(i), "t",
                  completions.callbackFor("e" + std::to_string(i)));
  }
  EXPECT_GE(loop.inFlightBytes(), 3 * 1024 * 1024);
  EXPECT_FALSE(loop.waitForCapacity(0ms));  // full by bytes with 3 events of 1000 allowed
  gate.release();
  ASSERT_TRUE(completions.waitFor(3));
  ASSERT_TRUE(waitUntil([&] { return loop.inFlightBytes() == 0; }));
  EXPECT_TRUE(loop.waitForCapacity(0ms));
  for (auto& [id, outcome] : completions.outcomes()) EXPECT_EQ(outcome, Outcome::kAcked) << id;
  loop.stop();
}

TEST(DeliveryLoopByteGateTest, SheddingDropsQueuedWorkAndStopsABatchBetweenEventsKeepingWhatRan) {
  DeliveryOptions options = fastOptions();
  options.workers = 1;
  GatedLoop f(options);
  DeliveryLoop& loop = f.loop;
  Gate& gate = f.gate;
  Completions& completions = f.completions;
  // One lane: the first batch runs (blocked in the handler), the next ones wait.
  std::vector<Event> first = {bigEvent("a0", 0, 10), bigEvent("a1", 0, 10)};
  std::mutex mu;
  std::vector<Outcome> firstOutcomes;
  loop.dispatchBatch(std::move(first), "p0", "t", [&](const std::vector<Event>&, const std::vector<Outcome>& outcomes) {
    std::lock_guard lock(mu);
    firstOutcomes = outcomes;
  });
  ASSERT_TRUE(waitUntil([&] { return gate.started.load() == 1; }));
  loop.dispatch(bigEvent("b", 0, 10), "p0", "t", completions.callbackFor("b"));
  loop.dispatch(bigEvent("c", 1, 10), "p1", "t", completions.callbackFor("c"));
  loop.shed();
  EXPECT_FALSE(loop.waitForCapacity(0ms));                                       // no more intake while shedding
  loop.dispatch(bigEvent("d", 2, 10), "p2", "t", completions.callbackFor("d"));  // refused silently
  gate.release();
  // a0 finishes and is written and acknowledged; a1 never starts and is handed back for redelivery.
  ASSERT_TRUE(waitUntil([&] { return loop.inFlight() == 0; }));
  EXPECT_EQ(loop.inFlightBytes(), 0);
  EXPECT_EQ(f.handler.calls().size(), 1u);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(firstOutcomes, (std::vector<Outcome>{Outcome::kAcked, Outcome::kRequeue}));
  }
  EXPECT_EQ(completions.count(), 0u);  // b, c (dropped from the queues) and d (refused): never completed
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
  EXPECT_EQ(f.out.acknowledged()[0].value, "a0");
  EXPECT_TRUE(loop.waitIdle(f.clock.now()));
  loop.stop();
}

TEST(MemoryWatchdogTest, TripsOnceAtTheThresholdWithAMessageNamingTheFigures) {
  FakeClock clock;
  std::atomic<int64_t> resident{100 * kMebibyte};
  MemoryWatchdog watchdog(
      {1000 * kMebibyte, 0.9, 50ms}, [&] { return resident.load(); }, clock);
  EXPECT_EQ(watchdog.thresholdBytes(), 900 * kMebibyte);
  EXPECT_FALSE(watchdog.check());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> trips;
  watchdog.start([&](const std::string& message) {
    std::lock_guard lock(mu);
    trips.push_back(message);
    cv.notify_all();
  });
  clock.waitForSleepers(1);
  clock.advance(50ms);  // a sample below the threshold
  clock.waitForSleepers(1);
  resident = 899 * kMebibyte;
  clock.advance(50ms);
  clock.waitForSleepers(1);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(trips.empty());
  }
  resident = 950 * kMebibyte;
  clock.advance(50ms);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !trips.empty(); }));
  }
  watchdog.stop();  // the thread ended at the trip
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(trips[0],
            "memory watchdog: resident set 950.0 MiB reached 90.0% of the memory limit of 1000.0 MiB; stopped taking "
            "events, drained (finished work committed, the rest left for redelivery) and exited to be restarted "
            "before the kernel's OOM kill");
}

// The watchdog's thread may be starved of CPU on a busy node while a handler
// allocates: the delivery loop's own sample before each event trips it then
// and there, once, and at most one sample every 5 ms is taken.
TEST(MemoryWatchdogTest, ASampleOnTheCallersThreadTripsOnceWithoutItsThread) {
  FakeClock clock;
  clock.advance(1s);
  std::atomic<int64_t> resident{100 * kMebibyte};
  MemoryWatchdog watchdog(
      {1000 * kMebibyte, 0.9, 50ms}, [&] { return resident.load(); }, clock);
  EXPECT_FALSE(memoryOverThreshold());  // not started: no process watchdog
  EXPECT_FALSE(watchdog.sample());
  std::atomic<int> trips{0};
  std::thread::id trippedOn;
  watchdog.start([&](const std::string&) {
    trippedOn = std::this_thread::get_id();
    ++trips;
  });
  EXPECT_FALSE(memoryOverThreshold());
  resident = 950 * kMebibyte;
  clock.advance(4ms);
  EXPECT_FALSE(memoryOverThreshold());  // within 5 ms of the last sample: its verdict holds
  clock.advance(1ms);
  EXPECT_TRUE(memoryOverThreshold());
  EXPECT_EQ(trips.load(), 1);
  EXPECT_EQ(trippedOn, std::this_thread::get_id());
  clock.advance(5ms);
  EXPECT_TRUE(watchdog.sample());
  EXPECT_EQ(trips.load(), 1);
  watchdog.stop();
  EXPECT_FALSE(memoryOverThreshold());  // stopped: no longer the process's watchdog
}

// A batch stops between events as soon as the memory sample says so, as it
// does when the loop sheds: what ran is kept, the rest is redelivered.
TEST(DeliveryLoopByteGateTest, AMemorySampleOverTheThresholdStopsABatchBetweenEvents) {
  DeliveryOptions options = fastOptions();
  options.workers = 1;
  std::atomic<bool> over{false};
  options.memoryPressure = [&] { return over.load(); };
  GatedLoop f(options);
  std::mutex mu;
  std::vector<Outcome> outcomes;
  f.loop.dispatchBatch({bigEvent("a0", 0, 10), bigEvent("a1", 0, 10), bigEvent("a2", 0, 10)}, "p0", "t",
                       [&](const std::vector<Event>&, const std::vector<Outcome>& done) {
                         std::lock_guard lock(mu);
                         outcomes = done;
                       });
  ASSERT_TRUE(waitUntil([&] { return f.gate.started.load() == 1; }));
  over = true;  // a0 allocated past the threshold
  f.gate.release();
  ASSERT_TRUE(waitUntil([&] { return f.loop.inFlight() == 0; }));
  EXPECT_EQ(f.handler.calls().size(), 1u);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(outcomes, (std::vector<Outcome>{Outcome::kAcked, Outcome::kRequeue, Outcome::kRequeue}));
  }
  f.loop.stop();
}

TEST(MemoryWatchdogTest, NeverTripsWithoutALimitOrAReading) {
  FakeClock clock;
  MemoryWatchdog unlimited(
      {0, 0.9, 50ms}, [] { return int64_t{1} << 40; }, clock);
  EXPECT_FALSE(unlimited.check());
  MemoryWatchdog unreadable(
      {kMebibyte, 0.9, 50ms}, [] { return int64_t{-1}; }, clock);
  EXPECT_FALSE(unreadable.check());
}

TEST(MemoryWatchdogTest, ReadsTheResidentPagesFromAStatmFile) {
  std::string path = ::testing::TempDir() + "/statm";
  std::ofstream(path) << "9999 512 100 30 0 700 0\n";
  EXPECT_EQ(residentBytes(path), 512 * ::sysconf(_SC_PAGESIZE));
  std::ofstream(path + ".bad") << "9999\n";
  EXPECT_EQ(residentBytes(path + ".bad"), -1);
  EXPECT_EQ(residentBytes(path + ".missing"), -1);
  EXPECT_GT(residentBytes(), 0);  // this process
}

TEST(InvokeLimitsTest, RefusesLargeBodiesAndTooManyConcurrentInvocations) {
  InvokeLimits limits({100, 2, 3s});
  EXPECT_EQ(limits.bodyLimit(), 100u);
  auto tooLarge = limits.admit(101);
  ASSERT_TRUE(std::holds_alternative<http::ServerResponse>(tooLarge));
  EXPECT_EQ(std::get<http::ServerResponse>(tooLarge).status, 413);
  EXPECT_EQ(std::get<http::ServerResponse>(tooLarge).body,
            "Payload Too Large: the request body is over the limit of 100 bytes\n");
  EXPECT_EQ(limits.inUse(), 0);
  {
    auto first = limits.admit(100);
    auto second = limits.admit(std::nullopt);  // chunked: the server checks while it reads
    ASSERT_TRUE(std::holds_alternative<InvokeLimits::Slot>(first));
    ASSERT_TRUE(std::holds_alternative<InvokeLimits::Slot>(second));
    EXPECT_EQ(limits.inUse(), 2);
    auto third = limits.admit(1);
    ASSERT_TRUE(std::holds_alternative<http::ServerResponse>(third));
    const http::ServerResponse& busy = std::get<http::ServerResponse>(third);
    EXPECT_EQ(busy.status, 429);
    EXPECT_NE(
        std::find(busy.headers.begin(), busy.headers.end(), std::pair<std::string, std::string>{"Retry-After", "3"}),
        busy.headers.end());
  }
  EXPECT_EQ(limits.inUse(), 0);  // slots given back
  EXPECT_TRUE(std::holds_alternative<InvokeLimits::Slot>(limits.admit(1)));
}

}  // namespace
}  // namespace sluice::runtime
