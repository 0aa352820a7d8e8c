// DeliveryLoop with fake handler and sinks: per-lane order, parallel lanes,
// retries with backoff, dead letter, sink retries, timeouts, in-flight limit.
#include "runtime/delivery/delivery_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "delivery_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_sink.h"

namespace sluice::runtime {
namespace {

using sluice::testing::FakeClock;
using sluice::testing::FakeHandler;
using sluice::testing::FakeSink;
using namespace std::chrono_literals;

struct Fixture {
  explicit Fixture(FakeHandler::Behaviour behaviour = FakeHandler::echo, DeliveryOptions options = fastOptions(),
                   bool withDeadLetter = true)
      : handler(std::move(behaviour)),
        loop(std::move(options), handler, {{"", &out}, {"audit", &audit}}, withDeadLetter ? &deadLetter : nullptr,
             metrics, clock) {
    loop.start();
  }
  FakeClock clock;
  FakeHandler handler;
  FakeSink out;
  FakeSink audit;
  FakeSink deadLetter;
  RuntimeMetrics metrics;
  Completions completions;
  DeliveryLoop loop;
};

// Three lanes of 200 events each: every event acknowledged, each lane's
// handled and written in its order.
void expectOrderWithinEachLaneAndEverythingAcked(DeliveryOptions options) {
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> seen;
  Fixture f(
      [&](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
        {
          std::lock_guard lock(mu);
          seen[event.subject + "/" + std::to_string(*event.partition)].push_back(*event.offset);
        }
        Record record;
        record.value = event.id;
        return std::vector<Record>{record};
      },
      std::move(options));
  constexpr int kLanes = 3;
  constexpr int kPerLane = 200;
  for (int offset = 0; offset < kPerLane; ++offset) {
    for (int lane = 0; lane < kLanes; ++lane) {
      std::string id = std::to_string(lane) + "/" + std::to_string(offset);
      f.loop.dispatch(makeEvent(id, lane, offset), "orders/" + std::to_string(lane), "t",
                      f.completions.callbackFor(id));
    }
  }
  ASSERT_TRUE(f.completions.waitFor(size_t{kLanes} * kPerLane));
  for (auto& [id, outcome] : f.completions.outcomes()) EXPECT_EQ(outcome, Outcome::kAcked) << id;
  ASSERT_EQ(seen.size(), 3u);
  for (auto& [lane, offsets] : seen) {
    ASSERT_EQ(offsets.size(), static_cast<size_t>(kPerLane)) << lane;
    for (int i = 0; i < kPerLane; ++i) EXPECT_EQ(offsets[i], i) << lane;
  }
  // Outputs of one lane reach the sink in lane order too.
  std::map<int, int> nextOffset;
  for (const Record& record : f.out.acknowledged()) {
    int lane = std::stoi(record.value.substr(0, record.value.find('/')));
    int offset = std::stoi(record.value.substr(record.value.find('/') + 1));
    EXPECT_EQ(offset, nextOffset[lane]++) << record.value;
  }
  EXPECT_EQ(f.out.acknowledged().size(), static_cast<size_t>(kLanes * kPerLane));
  EXPECT_EQ(f.metrics.counterValue("received", "t"), kLanes * kPerLane);
  EXPECT_EQ(f.metrics.counterValue("processed", "t"), kLanes * kPerLane);
  // The loop calls an event's completion (which commits) before it lowers the in-flight count,
  // so that a drain never finishes ahead of a commit; the count settles just after the last callback.
  for (int i = 0; i < 500 && f.loop.inFlight() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.loop.inFlight(), 0);
}

TEST(DeliveryLoopTest, KeepsOrderWithinEachLaneAndAcksEverything) {
  expectOrderWithinEachLaneAndEverythingAcked(fastOptions());
}

// A Function with concurrency 4: lanes are in the handler together, each still in its order.
TEST(DeliveryLoopTest, KeepsOrderWithinEachLaneWithHandlerConcurrency) {
  DeliveryOptions options = fastOptions();
  options.handlerConcurrency = 4;
  expectOrderWithinEachLaneAndEverythingAcked(options);
}

TEST(DeliveryLoopTest, ASlowLaneDoesNotHoldBackAnotherLane) {
  std::mutex mu;
  std::condition_variable cv;
  bool otherLaneHandled = false;
  bool slowSawOther = false;
  DeliveryOptions options = fastOptions();
  options.handlerConcurrency = 2;  // let both lanes be inside the handler at once
  Fixture f(
      [&](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
        std::unique_lock lock(mu);
        if (event.id == "slow") {
          slowSawOther = cv.wait_for(lock, 20s, [&] { return otherLaneHandled; });
        } else {
          otherLaneHandled = true;
          cv.notify_all();
        }
        return std::vector<Record>{};
      },
      options);
  f.loop.dispatch(makeEvent("slow", 0), "p0", "t", f.completions.callbackFor("slow"));
  f.loop.dispatch(makeEvent("fast", 1), "p1", "t", f.completions.callbackFor("fast"));
  ASSERT_TRUE(f.completions.waitFor(2));
  EXPECT_TRUE(slowSawOther);
}

// handlerConcurrency (a Function's concurrency) lets calls of different
// lanes be inside the handler together, up to that many and no more: of four
// lanes on four workers, the first calls wait inside until two are in (with
// one at a time they would wait in vain), and never more than two are.
TEST(DeliveryLoopTest, HandlerConcurrencyBoundsCallsAcrossLanes) {
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  int most = 0;
  bool twoMet = false;
  std::vector<bool> met;
  DeliveryOptions options = fastOptions();
  options.handlerConcurrency = 2;
  Fixture f(
      [&](const Event&, const InvocationContext&) -> Result<std::vector<Record>> {
        std::unique_lock lock(mu);
        most = std::max(most, ++inside);
        if (inside == 2) twoMet = true;
        cv.notify_all();
        met.push_back(cv.wait_for(lock, 20s, [&] { return twoMet; }));
        --inside;
        return std::vector<Record>{};
      },
      options);
  for (int lane = 0; lane < 4; ++lane) {
    std::string id = "e" + std::to_string(lane);
    f.loop.dispatch(makeEvent(id, lane), "p" + std::to_string(lane), "t", f.completions.callbackFor(id));
  }
  ASSERT_TRUE(f.completions.waitFor(4));
  std::lock_guard lock(mu);
  EXPECT_EQ(met, std::vector<bool>(4, true));
  EXPECT_EQ(most, 2);
}

TEST(DeliveryLoopTest, RetriesWithExponentialBackoffThenSucceeds) {
  std::vector<Clock::TimePoint> attemptTimes;
  FakeClock* clock = nullptr;
  Fixture f([&](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
    attemptTimes.push_back(clock->now());
    if (context.attempt < 3) return unavailable("broker away");
    return FakeHandler::echo(event, context);
  });
  clock = &f.clock;
  f.loop.dispatch(makeEvent("e1"), "p0", "t", f.completions.callbackFor("e1"));
  f.clock.waitForSleepers(1);
  f.clock.advance(100ms);  // first retry after `initial`
  ASSERT_TRUE(waitUntil([&] { return f.handler.calls().size() == 2; }));
  f.clock.waitForSleepers(1);
  f.clock.advance(200ms);  // second after initial * 2
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.completions.outcomes().at("e1"), Outcome::kAcked);
  auto calls = f.handler.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].attempt, 1);
  EXPECT_EQ(calls[2].attempt, 3);
  EXPECT_EQ(attemptTimes[1] - attemptTimes[0], 100ms);
  EXPECT_EQ(attemptTimes[2] - attemptTimes[1], 200ms);
  EXPECT_EQ(f.metrics.counterValue("retried", "t"), 2);
  EXPECT_EQ(f.metrics.counterValue("failed", "t"), 2);
  EXPECT_EQ(f.metrics.counterValue("processed", "t"), 1);
  EXPECT_TRUE(f.deadLetter.acknowledged().empty());
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
}

TEST(DeliveryLoopTest, PoisonEventGoesToDeadLetterWithErrorHeadersAndDoesNotBlockItsLane) {
  Fixture f([&](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
    if (event.id == "poison") return internalError("cannot digest " + event.id);
    return FakeHandler::echo(event, context);
  });
  f.loop.dispatch(makeEvent("poison", 2, 17), "orders/2", "t", f.completions.callbackFor("poison"));
  // Once a worker runs "poison", "after" waits behind it on its own (dispatched earlier, the two
  // would merge into one batch, whose first pass calls the handler for both before any retry).
  ASSERT_TRUE(waitUntil([&] { return f.handler.calls().size() == 1; }));
  f.loop.dispatch(makeEvent("after", 2, 18), "orders/2", "t", f.completions.callbackFor("after"));
  f.clock.waitForSleepers(1);
  f.clock.advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return f.handler.calls().size() == 2; }));
  f.clock.waitForSleepers(1);
  f.clock.advance(200ms);
  ASSERT_TRUE(f.completions.waitFor(2));
  EXPECT_EQ(f.completions.outcomes().at("poison"), Outcome::kAcked);
  EXPECT_EQ(f.completions.outcomes().at("after"), Outcome::kAcked);
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, "payload-poison");
  EXPECT_EQ(dead[0].key, "key-poison");
  Headers expected = {{"h", "v"},
                      {"x-sluice-error", "Internal: cannot digest poison"},
                      {"x-sluice-attempts", "3"},
                      {"x-sluice-event-id", "poison"},
                      {"x-sluice-source", "kafka:orders/2/17"},
                      {"x-sluice-trigger", "t"}};
  EXPECT_EQ(dead[0].headers, expected);
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
  EXPECT_EQ(f.out.acknowledged()[0].value, "payload-after");
  EXPECT_EQ(f.metrics.counterValue("dead_lettered", "t"), 1);
  EXPECT_EQ(f.handler.calls().size(), 4u);
}

// A RabbitMQ output keeps an AMQP input's properties: each output record of the event carries them
// (unless the handler gave the record its own), and so does the event's dead letter.
TEST(DeliveryLoopTest, OutputsAndDeadLettersCarryTheirInputsAmqpProperties) {
  auto own =
      std::make_shared<const MessageProperties>(MessageProperties{"own-id", "", "", "", std::nullopt, {}, {}, ""});
  Fixture f([&](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
    if (event.id == "bad") return invalidArgument("cannot read " + event.id);
    Record plain;
    plain.value = "plain";
    Record withOwn;
    withOwn.value = "with-own";
    withOwn.amqp = own;
    return std::vector<Record>{plain, withOwn};
  });
  Event amqp = makeEvent("m1");
  amqp.amqp = std::make_shared<const MessageProperties>(
      MessageProperties{"m1", "corr", "text/plain", "60000", 3, {{"a", "b"}}, {}, ""});
  Event bad = makeEvent("bad");
  bad.amqp = amqp.amqp;
  f.loop.dispatch(amqp, "p0", "t", f.completions.callbackFor("m1"));
  f.loop.dispatch(makeEvent("k1"), "p1", "t", f.completions.callbackFor("k1"));
  f.loop.dispatch(bad, "p2", "t", f.completions.callbackFor("bad"));
  ASSERT_TRUE(f.completions.waitFor(3));
  std::map<std::string, std::vector<const MessageProperties*>> byValue;
  auto written = f.out.acknowledged();
  ASSERT_EQ(written.size(), 4u);
  for (const Record& record : written) byValue[record.value].push_back(record.amqp.get());
  EXPECT_EQ(byValue["plain"].size(), 2u);
  EXPECT_EQ(std::count(byValue["plain"].begin(), byValue["plain"].end(), amqp.amqp.get()), 1)
      << "the AMQP input's record carries its properties";
  EXPECT_EQ(std::count(byValue["plain"].begin(), byValue["plain"].end(), nullptr), 1)
      << "the Kafka input's record carries none";
  EXPECT_EQ(byValue["with-own"], (std::vector<const MessageProperties*>{own.get(), own.get()}));
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].amqp.get(), amqp.amqp.get());
  // Each record also names its origin, the n-th output of its event: the id a
  // RabbitMQ output gives it when its input had none, the same on every retry.
  std::set<std::string> origins;
  for (const Record& record : written) origins.insert(record.originId);
  EXPECT_EQ(origins, (std::set<std::string>{"m1#0", "m1#1", "k1#0", "k1#1"}));
  EXPECT_EQ(dead[0].originId, "bad#dead-letter");
}

// No output reads origin ids (none is RabbitMQ): the loop builds none, an
// allocation per record saved on the mirror's and every Kafka output's path.
TEST(DeliveryLoopTest, OriginIdsAreBuiltOnlyForOutputsThatReadThem) {
  FakeHandler handler(FakeHandler::echo);
  FakeSink kafkaLike(/*usesOriginIds=*/false);
  FakeClock clock;
  RuntimeMetrics metrics;
  Completions completions;
  DeliveryLoop loop(fastOptions(), handler, {{"", &kafkaLike}}, nullptr, metrics, clock);
  loop.start();
  loop.dispatch(makeEvent("k1"), "p0", "t", completions.callbackFor("k1"));
  ASSERT_TRUE(completions.waitFor(1));
  auto written = kafkaLike.acknowledged();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].originId, "");
  loop.stop();
}

TEST(DeliveryLoopTest, InvalidInputIsDeadLetteredAtOnce) {
  Fixture f([](const Event&, const InvocationContext&) -> Result<std::vector<Record>> {
    return invalidArgument("field \"amount\": \"abc\" is not a number");
  });
  f.loop.dispatch(makeEvent("bad"), "p0", "t", f.completions.callbackFor("bad"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.handler.calls().size(), 1u);
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second, "InvalidArgument: field \"amount\": \"abc\" is not a number");
  EXPECT_EQ(dead[0].headers[2].second, "1");
}

TEST(DeliveryLoopTest, WithoutDeadLetterSinkTheSourceIsToldRejected) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 1;
  Fixture f([](const Event&, const InvocationContext&) -> Result<std::vector<Record>> { return internalError("no"); },
            options, /*withDeadLetter=*/false);
  f.loop.dispatch(makeEvent("e"), "", "t", f.completions.callbackFor("e"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.completions.outcomes().at("e"), Outcome::kRejected);
}

TEST(DeliveryLoopTest, TriggerOverridesMaxAttemptsAndHasItsOwnDeadLetterSink) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 3;
  options.maxAttemptsByTrigger = {{"posts", 1}, {"orders", 1}};
  FakeClock clock;
  FakeHandler handler([](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
    return internalError("cannot handle " + event.id);
  });
  FakeSink out;
  FakeSink functionDeadLetter;
  FakeSink postsDeadLetter;
  RuntimeMetrics metrics;
  Completions completions;
  DeliveryLoop loop(options, handler, {{"", &out}}, &functionDeadLetter, metrics, clock);
  loop.setTriggerDeadLetter("posts", &postsDeadLetter);
  loop.start();
  loop.dispatch(makeEvent("p"), "", "posts", completions.callbackFor("p"));
  loop.dispatch(makeEvent("o"), "", "orders", completions.callbackFor("o"));
  ASSERT_TRUE(completions.waitFor(2));
  EXPECT_EQ(completions.outcomes().at("p"), Outcome::kAcked);
  EXPECT_EQ(completions.outcomes().at("o"), Outcome::kAcked);
  EXPECT_EQ(handler.calls().size(), 2u) << "maxAttempts 1 for both triggers: no retries";
  auto posts = postsDeadLetter.acknowledged();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].value, "payload-p");
  EXPECT_EQ(posts[0].headers[1], (std::pair<std::string, std::string>{"x-sluice-error", "Internal: cannot handle p"}));
  EXPECT_EQ(posts[0].headers[2], (std::pair<std::string, std::string>{"x-sluice-attempts", "1"}));
  auto others = functionDeadLetter.acknowledged();
  ASSERT_EQ(others.size(), 1u) << "triggers without their own dead letter use the function's";
  EXPECT_EQ(others[0].value, "payload-o");
}

TEST(DeliveryLoopTest, FailuresWhileTheHandlerHostIsUnhealthyLeaveTheEventUnacknowledged) {
  DeliveryOptions options = fastOptions();
  std::atomic<bool> healthy{true};
  options.handlerHealthy = [&] { return healthy.load(); };
  Fixture f(
      [&](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
        if (event.id == "stuck") {
          healthy = false;
          return Status(StatusCode::kDeadlineExceeded, "the interpreter is stuck");
        }
        return FakeHandler::echo(event, context);
      },
      options);
  f.loop.dispatch(makeEvent("stuck"), "p0", "t", f.completions.callbackFor("stuck"));
  ASSERT_TRUE(waitUntil([&] { return f.handler.calls().size() == 1; }));
  ASSERT_TRUE(waitUntil([&] { return f.metrics.counterValue("failed", "t") == 1; }));
  EXPECT_EQ(f.completions.count(), 0u) << "not acked, not rejected: redelivered after the restart";
  EXPECT_EQ(f.loop.inFlight(), 1);
  EXPECT_TRUE(f.deadLetter.acknowledged().empty());
  EXPECT_EQ(f.metrics.counterValue("retried", "t"), 0);
  EXPECT_EQ(f.metrics.counterValue("dead_lettered", "t"), 0);
}

TEST(DeliveryLoopTest, FailingDeadLetterSinkAsksForRedelivery) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 1;
  Fixture f([](const Event&, const InvocationContext&) -> Result<std::vector<Record>> { return internalError("no"); },
            options);
  f.deadLetter.setFailRule([](const Record&, int) { return unavailable("dead-letter topic unreachable"); });
  f.loop.dispatch(makeEvent("e"), "", "t", f.completions.callbackFor("e"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.completions.outcomes().at("e"), Outcome::kRequeue);
}

TEST(DeliveryLoopTest, FailedSinkWriteIsRetriedWithoutCallingTheHandlerAgain) {
  Fixture f;
  f.out.setFailRule([](const Record&, int writeNumber) {
    return writeNumber == 1 ? unavailable("not enough replicas") : Status::ok();
  });
  f.loop.dispatch(makeEvent("e"), "p0", "t", f.completions.callbackFor("e"));
  f.clock.waitForSleepers(1);
  EXPECT_EQ(f.completions.count(), 0u);  // not acknowledged while the output is not durable
  f.clock.advance(100ms);
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.completions.outcomes().at("e"), Outcome::kAcked);
  EXPECT_EQ(f.handler.calls().size(), 1u);
  EXPECT_EQ(f.out.writes(), 2);
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
}

TEST(DeliveryLoopTest, SinkThatKeepsFailingEndsInDeadLetter) {
  Fixture f;
  f.out.setFailRule([](const Record&, int) { return unavailable("disk full"); });
  f.loop.dispatch(makeEvent("e"), "p0", "t", f.completions.callbackFor("e"));
  f.clock.waitForSleepers(1);
  f.clock.advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return f.out.writes() == 2; }));
  f.clock.waitForSleepers(1);
  f.clock.advance(200ms);
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.out.writes(), 3);
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second, "Unavailable: writing output to sink \"\": disk full");
}

// A batch: one completion with an outcome per event; a poison event is dead-lettered on its own,
// and only the record whose write failed is written again.
TEST(DeliveryLoopTest, ABatchCompletesOnceWithPerEventOutcomesAndRetriesOnlyItsFailedWrites) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 2;
  Fixture f(
      [](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
        if (event.id == "bad") return invalidArgument("cannot parse");
        return FakeHandler::echo(event, context);
      },
      options);
  // The test's own count (not a static): the first write of "flaky" fails, in every run of the test.
  auto flakyWrites = std::make_shared<std::atomic<int>>(0);
  f.out.setFailRule([flakyWrites](const Record& record, int) {
    if (record.value == "payload-flaky" && (*flakyWrites)++ == 0) return unavailable("broker busy");
    return Status::ok();
  });
  std::vector<Event> events = {makeEvent("a", 0, 1), makeEvent("bad", 0, 2), makeEvent("flaky", 0, 3),
                               makeEvent("c", 0, 4)};
  std::mutex mu;
  std::vector<std::string> doneIds;
  std::vector<Outcome> doneOutcomes;
  int calls = 0;
  f.loop.dispatchBatch(std::move(events), "p0", "t",
                       [&](const std::vector<Event>& back, const std::vector<Outcome>& outcomes) {
                         std::lock_guard lock(mu);
                         ++calls;
                         for (const Event& event : back) doneIds.push_back(event.id);
                         doneOutcomes = outcomes;
                       });
  f.clock.waitForSleepers(1);  // the retry thread's backoff before writing "flaky" again
  f.clock.advance(100ms);
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(mu);
    return calls == 1;
  }));
  EXPECT_EQ(doneIds, (std::vector<std::string>{"a", "bad", "flaky", "c"}));
  EXPECT_EQ(doneOutcomes, std::vector<Outcome>(4, Outcome::kAcked));
  EXPECT_EQ(f.out.writes(), 4) << "three records, then only the failed one again";
  std::vector<std::string> written;
  for (const Record& record : f.out.acknowledged()) written.push_back(record.value);
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, (std::vector<std::string>{"payload-a", "payload-c", "payload-flaky"}));
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, "payload-bad");
  // Completion comes first, then the in-flight count is lowered: wait for that.
  EXPECT_TRUE(waitUntil([&] { return f.loop.inFlight() == 0; })) << f.loop.inFlight() << " still in flight";
  EXPECT_EQ(f.metrics.counterValue("processed", "t"), 3);
  EXPECT_EQ(f.metrics.counterValue("dead_lettered", "t"), 1);
}

// Holds the handler call for event "first" until open(): while it waits, later dispatches to its
// lane queue up behind it.
class HeldFirstEvent {
 public:
  FakeHandler::Behaviour behaviour() {
    return [this](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
      if (event.id == "first") {
        std::unique_lock lock(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
      }
      return FakeHandler::echo(event, context);
    };
  }
  bool waitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return entered_; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

// A lane that falls behind catches up in one batch: dispatches queued behind a running batch merge
// into one (one handler pass, one sink write), and each dispatch still gets exactly its own events
// and outcomes back, in order. Unmerged, a trickle of one-record batches queued without bound.
TEST(DeliveryLoopTest, BatchesQueuedBehindARunningOneMergeAndEachDispatchGetsItsOwnEventsBack) {
  HeldFirstEvent held;
  Fixture f(held.behaviour());
  std::mutex mu;
  std::vector<std::vector<std::string>> done;  // per completion, the ids handed back
  auto record = [&](const std::vector<Event>& back, const std::vector<Outcome>& outcomes) {
    std::lock_guard lock(mu);
    EXPECT_EQ(back.size(), outcomes.size());
    std::vector<std::string> ids;
    ids.reserve(back.size());
    for (const Event& event : back) ids.push_back(event.id);
    done.push_back(ids);
  };
  f.loop.dispatchBatch({makeEvent("first", 0, 0)}, "p0", "t", record);
  ASSERT_TRUE(held.waitEntered());
  // The lane's worker is inside the handler: these wait in the lane's queue.
  f.loop.dispatchBatch({makeEvent("a", 0, 1)}, "p0", "t", record);
  f.loop.dispatchBatch({makeEvent("b", 0, 2), makeEvent("c", 0, 3)}, "p0", "t", record);
  f.loop.dispatchBatch({makeEvent("d", 0, 4)}, "p0", "t", record);
  held.open();
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(mu);
    return done.size() == 4;
  }));
  EXPECT_EQ(done, (std::vector<std::vector<std::string>>{{"first"}, {"a"}, {"b", "c"}, {"d"}}));
  EXPECT_EQ(f.metrics.counterValue("batches", "t"), 2) << "the three queued dispatches ran as one batch";
  EXPECT_EQ(f.out.writes(), 5);
  // Completion comes first, then the in-flight count is lowered: wait for that.
  EXPECT_TRUE(waitUntil([&] { return f.loop.inFlight() == 0; })) << f.loop.inFlight() << " still in flight";
  const auto calls = f.handler.calls();
  std::vector<std::string> order;
  order.reserve(calls.size());
  for (const auto& call : calls) order.push_back(call.eventId);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "a", "b", "c", "d"}));
}

// ... but never past maxMergedBatch, and never for a list trigger, whose batch is the handler's argument.
TEST(DeliveryLoopTest, MergingStopsAtMaxMergedBatchAndLeavesListTriggersAlone) {
  DeliveryOptions options = fastOptions();
  options.maxMergedBatch = 3;
  options.listTriggers = {"list"};
  HeldFirstEvent held;
  Fixture f(held.behaviour(), options);
  std::atomic<int> completions{0};
  auto count = [&](const std::vector<Event>&, const std::vector<Outcome>&) { ++completions; };
  f.loop.dispatchBatch({makeEvent("first", 0, 0)}, "p0", "t", count);
  ASSERT_TRUE(held.waitEntered());
  for (int i = 1; i <= 4; ++i) f.loop.dispatchBatch({makeEvent("e" + std::to_string(i), 0, i)}, "p0", "t", count);
  f.loop.dispatchBatch({makeEvent("l1", 0, 5)}, "p0", "list", count);
  f.loop.dispatchBatch({makeEvent("l2", 0, 6)}, "p0", "list", count);
  held.open();
  ASSERT_TRUE(waitUntil([&] { return completions.load() == 7; }));
  EXPECT_EQ(f.metrics.counterValue("batches", "t"), 3) << "first, then e1-e3 (the cap), then e4";
  EXPECT_EQ(f.metrics.counterValue("batches", "list"), 2) << "list batches keep their boundaries";
}

// listTriggers: the handler gets the batch in one handleBatch call; a failure fails the whole
// batch, so after maxAttempts every event of it is dead-lettered.
TEST(DeliveryLoopTest, ListTriggerHandsTheWholeBatchToOneCallAndDeadLettersItAsAWhole) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 1;
  options.listTriggers = {"t"};
  std::atomic<int> calls{0};
  Fixture f(
      [&](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
        ++calls;
        if (event.id == "bad") return internalError("boom");
        return FakeHandler::echo(event, context);
      },
      options);
  Completions good;
  std::vector<Event> ok = {makeEvent("x", 1, 1), makeEvent("y", 1, 2)};
  std::atomic<int> okDone{0};
  f.loop.dispatchBatch(std::move(ok), "p1", "t", [&](const std::vector<Event>&, const std::vector<Outcome>& outcomes) {
    EXPECT_EQ(outcomes, std::vector<Outcome>(2, Outcome::kAcked));
    ++okDone;
  });
  ASSERT_TRUE(waitUntil([&] { return okDone == 1; }));
  EXPECT_EQ(f.out.acknowledged().size(), 2u);
  std::vector<Event> mixed = {makeEvent("m", 2, 1), makeEvent("bad", 2, 2), makeEvent("n", 2, 3)};
  std::atomic<int> mixedDone{0};
  f.loop.dispatchBatch(std::move(mixed), "p2", "t",
                       [&](const std::vector<Event>&, const std::vector<Outcome>& outcomes) {
                         EXPECT_EQ(outcomes, std::vector<Outcome>(3, Outcome::kAcked));
                         ++mixedDone;
                       });
  ASSERT_TRUE(waitUntil([&] { return mixedDone == 1; }));
  EXPECT_EQ(f.out.acknowledged().size(), 2u) << "nothing of the failed batch is written";
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 3u);
  for (const Record& record : dead) {
    EXPECT_EQ(record.headers[1].first, kDeadLetterErrorHeader);
    EXPECT_EQ(record.headers[1].second, "Internal: event bad: boom");
  }
}

TEST(DeliveryLoopTest, HandlerOverrunningItsTimeoutCountsAsFailed) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 1;
  options.handlerTimeout = 2s;
  FakeClock* clock = nullptr;
  Fixture f(
      [&](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
        EXPECT_EQ(context.deadline, clock->now() + 2s);
        clock->advance(3s);  // the handler "runs" three seconds
        return FakeHandler::echo(event, context);
      },
      options);
  clock = &f.clock;
  f.loop.dispatch(makeEvent("slow"), "", "t", f.completions.callbackFor("slow"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_TRUE(f.out.acknowledged().empty());
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second, "DeadlineExceeded: handler took 3000 ms, over the timeout of 2000 ms");
}

TEST(DeliveryLoopTest, OutputNamingAnUnknownSinkIsDeadLetteredWithTheName) {
  Fixture f([](const Event&, const InvocationContext&) -> Result<std::vector<Record>> {
    Record record;
    record.value = "x";
    record.sink = "nowhere";
    return std::vector<Record>{record};
  });
  f.loop.dispatch(makeEvent("e"), "", "t", f.completions.callbackFor("e"));
  ASSERT_TRUE(f.completions.waitFor(1));
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second,
            "InvalidArgument: output record names sink \"nowhere\", which is not configured");
}

TEST(DeliveryLoopTest, RoutesRecordsToNamedSinks) {
  Fixture f([](const Event&, const InvocationContext&) -> Result<std::vector<Record>> {
    Record a;
    a.value = "to-default";
    Record b;
    b.value = "to-audit";
    b.sink = "audit";
    return std::vector<Record>{a, b};
  });
  f.loop.dispatch(makeEvent("e"), "", "t", f.completions.callbackFor("e"));
  ASSERT_TRUE(f.completions.waitFor(1));
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
  EXPECT_EQ(f.out.acknowledged()[0].value, "to-default");
  ASSERT_EQ(f.audit.acknowledged().size(), 1u);
  EXPECT_EQ(f.audit.acknowledged()[0].value, "to-audit");
}

TEST(DeliveryLoopTest, AcknowledgesOnlyAfterTheSinkConfirmsAndLimitsInFlight) {
  DeliveryOptions options = fastOptions();
  options.maxInFlight = 2;
  Fixture f(FakeHandler::echo, options);
  f.out.holdCallbacks(true);
  EXPECT_TRUE(f.loop.waitForCapacity(1ms));
  f.loop.dispatch(makeEvent("a"), "p0", "t", f.completions.callbackFor("a"));
  f.loop.dispatch(makeEvent("b"), "p1", "t", f.completions.callbackFor("b"));
  // Both handled, both outputs unconfirmed: nothing acked, no capacity left.
  while (f.out.heldCount() < 2) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(f.completions.count(), 0u);
  EXPECT_FALSE(f.loop.waitForCapacity(10ms));
  EXPECT_EQ(f.loop.inFlight(), 2);
  EXPECT_EQ(f.out.releaseAll(), 2u);
  ASSERT_TRUE(f.completions.waitFor(2));
  EXPECT_TRUE(f.loop.waitForCapacity(1ms));
  EXPECT_TRUE(f.loop.waitIdle(f.clock.now()));
}

TEST(DeliveryLoopTest, HandlerExceptionIsAFailedAttempt) {
  DeliveryOptions options = fastOptions();
  options.maxAttempts = 1;
  Fixture f(
      [](const Event&, const InvocationContext&) -> Result<std::vector<Record>> { throw std::runtime_error("kaboom"); },
      options);
  f.loop.dispatch(makeEvent("e"), "", "t", f.completions.callbackFor("e"));
  ASSERT_TRUE(f.completions.waitFor(1));
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second, "Internal: handler threw: kaboom");
}

TEST(DeliveryLoopTest, InvokeReturnsTheHandlersOutputsOrError) {
  Fixture f([](const Event& event, const InvocationContext& context) -> Result<std::vector<Record>> {
    if (event.data == "fail") return invalidArgument("bad body");
    return FakeHandler::echo(event, context);
  });
  Event event = makeEvent("h1");
  event.data = "hello";
  auto ok = f.loop.invoke(event, "http");
  ASSERT_TRUE(ok.isOk());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].value, "hello");
  event.data = "fail";
  auto bad = f.loop.invoke(event, "http");
  EXPECT_EQ(bad.status().toString(), "InvalidArgument: bad body");
  EXPECT_TRUE(f.out.acknowledged().empty());
}

TEST(BackoffTest, GrowsExponentiallyUpToTheCap) {
  Backoff backoff({.initial = 100ms, .maxDelay = 1000ms, .multiplier = 2.0, .jitter = 0});
  EXPECT_EQ(backoff.delay(1), 100ms);
  EXPECT_EQ(backoff.delay(2), 200ms);
  EXPECT_EQ(backoff.delay(3), 400ms);
  EXPECT_EQ(backoff.delay(4), 800ms);
  EXPECT_EQ(backoff.delay(5), 1000ms);
  EXPECT_EQ(backoff.delay(30), 1000ms);
}

TEST(BackoffTest, JitterStaysWithinItsFractionAndVaries) {
  Backoff backoff({.initial = 1000ms, .maxDelay = 1000ms, .multiplier = 2.0, .jitter = 0.5}, 42);
  std::set<int64_t> distinct;
  for (int i = 0; i < 100; ++i) {
    auto d = backoff.delay(1);
    EXPECT_GE(d, 500ms);
    EXPECT_LE(d, 1000ms);
    distinct.insert(d.count());
  }
  EXPECT_GT(distinct.size(), 10u);
}

}  // namespace
}  // namespace sluice::runtime
