// Counting deliveries that ended with the process exiting (issue 16, poison
// records): the Kafka crash marks' format and what the next owner makes of
// them; the delivery loop giving up on an event whose exits reached
// maxAttempts without calling the handler; the Kafka source, over the fake
// group, handling a dead member's records one at a time behind marks and
// handing the marked record's exit count to the delivery loop; the RabbitMQ
// source's suspect and charge decisions (its probation queue: see
// rabbitmq_source_test.cpp for the source itself).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "delivery_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_kafka_consumer.h"
#include "fakes/fake_sink.h"
#include "runtime/sources/kafka_crash_marks.h"
#include "runtime/sources/kafka_source.h"
#include "runtime/sources/rabbitmq_source.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeClock;
using sluice::testing::FakeHandler;
using sluice::testing::FakeKafkaGroup;
using sluice::testing::FakeSink;

TEST(CrashMarkTest, FormatsAndParsesTheLimitAndTheInFlightCount) {
  EXPECT_EQ(formatCrashMark({1200, -1}), "sluice/1 limit=1200");
  EXPECT_EQ(formatCrashMark({1200, 2}), "sluice/1 limit=1200 inflight=2");
  auto plain = parseCrashMark("sluice/1 limit=1200");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->limit, 1200);
  EXPECT_EQ(plain->inflight, -1);
  auto marked = parseCrashMark("sluice/1 limit=7 inflight=0");
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->limit, 7);
  EXPECT_EQ(marked->inflight, 0);
}

TEST(CrashMarkTest, MetadataItDidNotWriteIsNoMark) {
  for (const char* foreign : {"", "hello", "sluice/1 limit=", "sluice/1 limit=-3", "sluice/1 limit=5 inflight=",
                              "sluice/1 limit=5 inflight=x", "sluice/1 limit=5 other=1", "sluice/2 limit=5"}) {
    EXPECT_FALSE(parseCrashMark(foreign)) << foreign;
  }
}

TEST(CrashMarkTest, TheNextOwnerSuspectsTheMarkedRecordAloneOrEveryRecordBelowTheLimit) {
  // Died while handling the marked record 40 after 1 earlier exit: 40 alone, its 2nd exit.
  Probation marked = probationAfter(40, "sluice/1 limit=900 inflight=1");
  EXPECT_EQ(marked.end, 41);
  EXPECT_EQ(marked.exitsOf(40), 2);
  EXPECT_EQ(marked.exitsOf(41), 0);
  EXPECT_FALSE(marked.covers(41));
  // Died somewhere below its limit: each record up to 899 alone, none known to have killed it.
  Probation unmarked = probationAfter(40, "sluice/1 limit=900");
  EXPECT_TRUE(unmarked.covers(899));
  EXPECT_FALSE(unmarked.covers(900));
  EXPECT_EQ(unmarked.exitsOf(40), 0);
  // No commit yet, or another client's metadata: no probation.
  EXPECT_FALSE(probationAfter(kKafkaNoOffset, "sluice/1 limit=900").covers(0));
  EXPECT_FALSE(probationAfter(40, "").covers(40));
}

TEST(CrashMarkTest, TheWindowFollowsTheRateBetweenItsBounds) {
  EXPECT_EQ(dispatchWindow(0, 500), 1000);           // at least two batches
  EXPECT_EQ(dispatchWindow(0, 20), 100);             // and at least 100 records
  EXPECT_EQ(dispatchWindow(0, 2000), 4000);          // a large batch raises the floor
  EXPECT_EQ(dispatchWindow(2000, 500), 8000);        // four commit intervals at the recent rate
  EXPECT_EQ(dispatchWindow(1'000'000, 500), 20000);  // capped: after a crash the window is handled one by one
}

struct LoopFixture {
  explicit LoopFixture(bool withDeadLetter = true)
      : handler(FakeHandler::echo),
        loop(options(), handler, {{"", &out}}, withDeadLetter ? &deadLetter : nullptr, metrics, clock) {
    loop.start();
  }
  static DeliveryOptions options() {
    DeliveryOptions options = fastOptions();
    options.maxAttempts = 5;
    options.maxAttemptsByTrigger = {{"orders", 3}};
    return options;
  }
  FakeClock clock;
  FakeHandler handler;
  FakeSink out;
  FakeSink deadLetter;
  RuntimeMetrics metrics;
  Completions completions;
  DeliveryLoop loop;
};

Event withExits(const std::string& id, int64_t offset, int exits) {
  Event event = makeEvent(id, 0, offset);
  event.exits = exits;
  return event;
}

TEST(CrashCountDeliveryTest, AnEventThatKilledTheProcessMaxAttemptsTimesIsDeadLetteredUnhandled) {
  LoopFixture f;
  std::vector<Event> batch = {withExits("before", 1, 0), withExits("poison", 2, 3), withExits("after", 3, 2)};
  std::vector<Outcome> outcomes;
  f.loop.dispatchBatch(std::move(batch), "orders/0", "orders",
                       [&](std::vector<Event>, const std::vector<Outcome>& got) { outcomes = got; });
  ASSERT_TRUE(waitUntil([&] { return outcomes.size() == 3; }));
  EXPECT_EQ(outcomes, (std::vector<Outcome>{Outcome::kAcked, Outcome::kAcked, Outcome::kAcked}));
  // The handler saw the two others (2 exits < the trigger's 3 attempts), never the poison.
  std::vector<std::string> called;
  for (const auto& call : f.handler.calls()) called.push_back(call.eventId);
  EXPECT_EQ(called, (std::vector<std::string>{"before", "after"}));
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, "payload-poison");
  Headers expected = {{"h", "v"},
                      {"x-sluice-error",
                       "Internal: process exited while handling this record (exit 3 of 3): it crashed, or outlived "
                       "its timeout and the runtime restarted"},
                      {"x-sluice-attempts", "3"},
                      {"x-sluice-event-id", "poison"},
                      {"x-sluice-source", "kafka:orders/0/2"},
                      {"x-sluice-trigger", "orders"}};
  EXPECT_EQ(dead[0].headers, expected);
  EXPECT_EQ(f.out.acknowledged().size(), 2u);
  EXPECT_EQ(f.metrics.counterValue("dead_lettered", "orders"), 1);
}

TEST(CrashCountDeliveryTest, WithoutADeadLetterTheSourceIsToldRejectedAsForAnyGivenUpEvent) {
  LoopFixture f(/*withDeadLetter=*/false);
  f.loop.dispatch(withExits("poison", 2, 3), "orders/0", "orders", f.completions.callbackFor("poison"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_EQ(f.completions.outcomes().at("poison"), Outcome::kRejected);
  EXPECT_TRUE(f.handler.calls().empty());
}

TEST(CrashCountRabbitMqTest, ARedeliveryOrADeliveryCountMakesASuspect) {
  AmqpDelivery fresh;
  EXPECT_FALSE(isSuspect(fresh));
  AmqpDelivery redelivered;
  redelivered.redelivered = true;  // a classic queue: no count, only the flag
  EXPECT_TRUE(isSuspect(redelivered));
  AmqpDelivery counted;
  counted.headers = {{"h", "v"}, {"x-delivery-count", "1"}};
  EXPECT_TRUE(isSuspect(counted));
  counted.headers = {{"x-delivery-count", "0"}};
  EXPECT_FALSE(isSuspect(counted));
}

TEST(CrashCountRabbitMqTest, TheChargeIsTheCrashesHeaderAndADeathAloneAlsoChargesTheOneThatMadeTheSuspect) {
  EXPECT_EQ(crashesOf({{"x-sluice-crashes", "2"}}), 2);
  EXPECT_EQ(crashesOf({{"x-sluice-crashes", "two"}}), 0);
  EXPECT_EQ(crashesOf({{"x-delivery-count", "4"}}), 0);  // the broker's returns are no deaths
  EXPECT_EQ(crashesOf({}), 0);
  EXPECT_EQ(chargeAfterLoneDeath(0), 2);  // its first lone death, and the one among many before it
  EXPECT_EQ(chargeAfterLoneDeath(2), 3);
  // The probation copy: the broker's count and any earlier charge replaced; the routing key kept.
  EXPECT_EQ(probationHeaders({{"h", "v"}, {"x-delivery-count", "3"}, {"x-sluice-crashes", "7"}}, "rk", 0),
            (Headers{{"h", "v"}, {"x-sluice-routing-key", "rk"}}));
  EXPECT_EQ(probationHeaders({{"h", "v"}, {"x-sluice-crashes", "2"}, {"x-sluice-routing-key", "rk"}}, "rk", 3),
            (Headers{{"h", "v"}, {"x-sluice-crashes", "3"}, {"x-sluice-routing-key", "rk"}}));
}

TEST(CrashCountRabbitMqTest, AProbationMessageChargedMaxAttemptsExitsIsDeadLetteredNamingTheCount) {
  LoopFixture f;
  Event event = withExits("m", 0, 3);
  event.source = "rabbitmq";
  f.loop.dispatch(event, "", "orders", f.completions.callbackFor("m"));
  ASSERT_TRUE(f.completions.waitFor(1));
  EXPECT_TRUE(f.handler.calls().empty());
  auto dead = f.deadLetter.acknowledged();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers[1].second,
            "Internal: process exited while handling this message (exit 3 of 3, each after the first with it handled "
            "alone): it crashed, or outlived its timeout and the runtime restarted");
}

// Holds every dispatched batch until the test completes it.
class RecordingDispatcher final : public EventDispatcher {
 public:
  bool waitForCapacity(std::chrono::milliseconds) override { return true; }
  void dispatch(Event, std::string, std::string, CompletionCallback) override { ADD_FAILURE() << "batches only"; }
  void dispatchBatch(std::vector<Event> events, std::string, std::string, BatchCompletionCallback done) override {
    std::lock_guard lock(mu_);
    batches_.push_back({std::move(events), std::move(done)});
    changed_.notify_all();
  }
  bool waitForBatches(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return batches_.size() >= count; });
  }
  std::vector<Event> events(size_t batch) {
    std::lock_guard lock(mu_);
    return batches_.at(batch).first;
  }
  size_t batches() {
    std::lock_guard lock(mu_);
    return batches_.size();
  }
  void complete(size_t index) {
    BatchCompletionCallback done;
    std::vector<Event> events;
    {
      std::lock_guard lock(mu_);
      done = std::move(batches_.at(index).second);
      events = batches_.at(index).first;
    }
    std::vector<Outcome> outcomes(events.size(), Outcome::kAcked);
    done(std::move(events), outcomes);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<std::vector<Event>, BatchCompletionCallback>> batches_;
};

class CrashCountKafkaTest : public ::testing::Test {
 protected:
  void start() {
    KafkaSourceOptions options;
    options.triggerName = "orders";
    options.bootstrapServers = "fake:9092";
    options.topics = {"orders"};
    options.consumerGroup = "billing";
    options.initialOffset = "earliest";
    options.commitInterval = 1s;
    options.lagInterval = 1h;
    source_ = std::make_unique<KafkaSource>(options, metrics_, clock_, group_.consumer());
    ASSERT_TRUE(source_->start(dispatcher_).isOk());
    group_.assignInsidePoll({{"orders", 0}});
  }
  void TearDown() override {
    if (!source_) return;
    source_->stopFetching();
    EXPECT_TRUE(source_->finish(clock_.now()).isOk());
  }
  std::string metadata() { return group_.committedMetadata("orders", 0); }

  FakeClock clock_;
  RuntimeMetrics metrics_;
  FakeKafkaGroup group_;
  RecordingDispatcher dispatcher_;
  std::unique_ptr<KafkaSource> source_;
};

TEST_F(CrashCountKafkaTest, SteadyStateCommitsCarryALimitAheadOfWhatWasDispatched) {
  for (int i = 0; i < 10; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  start();
  // No mark yet: the records wait for the first commit carrying a limit, then go as one batch.
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  EXPECT_EQ(dispatcher_.events(0).size(), 10u);
  EXPECT_EQ(dispatcher_.events(0).front().exits, 0);
  auto mark = parseCrashMark(metadata());
  ASSERT_TRUE(mark) << metadata();
  EXPECT_EQ(mark->inflight, -1);
  EXPECT_GE(mark->limit, 10);
}

TEST_F(CrashCountKafkaTest, ADeadMembersRecordsGoOneAtATimeBehindMarksAndTheMarkedOneCarriesItsExits) {
  for (int i = 0; i < 6; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  // The previous owner died while handling record 2 behind a mark, after 1 earlier exit.
  group_.setCommitted("orders", 0, 2, "sluice/1 limit=5 inflight=1");
  start();
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  ASSERT_EQ(dispatcher_.events(0).size(), 1u);
  EXPECT_EQ(*dispatcher_.events(0)[0].offset, 2);
  EXPECT_EQ(dispatcher_.events(0)[0].exits, 2);
  // Marked in flight (its 2 exits) before the handler runs: if this process dies now, the next owner counts 3.
  EXPECT_EQ(group_.committedOffset("orders", 0), 2);
  EXPECT_EQ(metadata(), "sluice/1 limit=3 inflight=2");  // its death is record 2's: only it was suspect
  dispatcher_.complete(0);
  // Only record 2 was suspect: the rest go together once the limit allows.
  ASSERT_TRUE(dispatcher_.waitForBatches(2));
  std::vector<int64_t> offsets;
  for (size_t b = 1; b < dispatcher_.batches(); ++b) {
    for (const Event& event : dispatcher_.events(b)) {
      offsets.push_back(*event.offset);
      EXPECT_EQ(event.exits, 0);
    }
  }
  ASSERT_TRUE(waitUntil([&] {
    offsets.clear();
    for (size_t b = 1; b < dispatcher_.batches(); ++b) {
      for (const Event& event : dispatcher_.events(b)) offsets.push_back(*event.offset);
    }
    return offsets.size() == 3;
  }));
  EXPECT_EQ(offsets, (std::vector<int64_t>{3, 4, 5}));
}

TEST_F(CrashCountKafkaTest, AnUnmarkedDeathPutsEveryRecordBelowItsLimitOnProbation) {
  for (int i = 0; i < 5; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  group_.setCommitted("orders", 0, 1, "sluice/1 limit=3");
  start();
  for (int64_t offset : {1, 2}) {
    const size_t batch = static_cast<size_t>(offset - 1);
    ASSERT_TRUE(dispatcher_.waitForBatches(batch + 1));
    ASSERT_EQ(dispatcher_.events(batch).size(), 1u);
    EXPECT_EQ(*dispatcher_.events(batch)[0].offset, offset);
    EXPECT_EQ(group_.committedOffset("orders", 0), offset);
    EXPECT_EQ(metadata(), "sluice/1 limit=3 inflight=1");  // charged the unattributed death, should it die alone
    // Nothing else goes while the marked record runs.
    EXPECT_EQ(dispatcher_.batches(), batch + 1);
    dispatcher_.complete(batch);
  }
  ASSERT_TRUE(dispatcher_.waitForBatches(3));
  std::vector<Event> rest = dispatcher_.events(2);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(*rest[0].offset, 3);
}

}  // namespace
}  // namespace sluice::runtime
