// RabbitMqSource's bookkeeping over the in-memory broker of
// fakes/fake_amqp_consumer.h (no RabbitMQ): a delivery is acked only once the
// delivery loop acked it, nacked with requeue or rejected as it says; after a
// dropped connection what was not acked is delivered again and the old
// connection's tags are never used on the new one; reconnects and heartbeats
// are timed on the source's clock; suspects (redelivered, or counted by a
// quorum queue) go through the probation queue, one at a time, and a
// probation message that comes back redelivered is charged a death.
#include "runtime/sources/rabbitmq_source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "fakes/fake_amqp_consumer.h"
#include "fakes/fake_clock.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeAmqpBroker;
using sluice::testing::FakeClock;

// Holds every dispatched event until the test completes it.
class HoldingDispatcher final : public EventDispatcher {
 public:
  struct Held {
    Event event;
    CompletionCallback done;
  };
  bool waitForCapacity(std::chrono::milliseconds) override { return true; }
  void dispatch(Event event, std::string, std::string, CompletionCallback done) override {
    std::lock_guard lock(mu_);
    held_.push_back({std::move(event), std::move(done)});
    changed_.notify_all();
  }
  // Waits (up to 10 s) until `count` events were dispatched in all; a copy of the first `count`.
  std::vector<Event> waitForEvents(size_t count) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, 10s, [&] { return held_.size() >= count; });
    std::vector<Event> events;
    for (size_t i = 0; i < held_.size() && i < count; ++i) events.push_back(held_[i].event);
    return events;
  }
  void complete(size_t index, Outcome outcome) {
    CompletionCallback done;
    {
      std::lock_guard lock(mu_);
      done = std::move(held_.at(index).done);
    }
    done(outcome);
  }
  size_t dispatched() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Held> held_;
};

std::string header(const Event& event, const std::string& name) {
  for (const auto& [key, value] : event.headers) {
    if (key == name) return value;
  }
  return "";
}

class RabbitMqSourceTest : public ::testing::Test {
 protected:
  void start(int prefetch = 10) {
    RabbitMqSourceOptions options;
    options.triggerName = "orders";
    options.queue = "orders";
    options.prefetch = prefetch;
    options.heartbeatSeconds = 30;
    source_ = std::make_unique<RabbitMqSource>(options, clock_, broker_.consumer());
    ASSERT_TRUE(source_->start(dispatcher_).isOk());
  }
  void TearDown() override {
    if (!source_) return;
    source_->stopFetching();
    EXPECT_TRUE(source_->finish(clock_.now()).isOk());
  }

  FakeClock clock_;
  FakeAmqpBroker broker_;
  HoldingDispatcher dispatcher_;
  std::unique_ptr<RabbitMqSource> source_;
};

TEST_F(RabbitMqSourceTest, ADeliveryIsSettledOnlyAsTheDeliveryLoopSays) {
  broker_.publish("m1", "one");
  broker_.publish("m2", "two");
  broker_.publish("m3", "three");
  start();
  std::vector<Event> events = dispatcher_.waitForEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "m1");
  EXPECT_EQ(events[0].data, "one");
  EXPECT_EQ(events[0].source, "rabbitmq");
  EXPECT_EQ(header(events[0], "x-redelivered"), "");
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.unacked() == 3; }));
  EXPECT_TRUE(broker_.acked().empty()) << "nothing is acked before the delivery loop says so";

  dispatcher_.complete(1, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 1; }));
  EXPECT_EQ(broker_.acked(), std::vector<std::string>{"m2"});
  dispatcher_.complete(2, Outcome::kRejected);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.rejected().size() == 1; }));
  EXPECT_EQ(broker_.rejected(), std::vector<std::string>{"m3"}) << "to the queue's dead-letter exchange";

  // Requeued: the broker delivers it again, redelivered, so it goes through
  // the probation queue (the original acked once the copy is there).
  dispatcher_.complete(0, Outcome::kRequeue);
  events = dispatcher_.waitForEvents(4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].id, "m1");
  EXPECT_EQ(events[3].exits, 0);
  EXPECT_EQ(broker_.acked(), (std::vector<std::string>{"m2", "m1"}));
  dispatcher_.complete(3, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 1; }));
  EXPECT_EQ(broker_.probationAcked(), std::vector<std::string>{"m1"});
  EXPECT_EQ(broker_.requeued(), 1);
  EXPECT_EQ(broker_.unknownTags(), 0);
  // The source counts a settlement after sending it: read its counts once its thread is done.
  source_->stopFetching();
  ASSERT_TRUE(source_->finish(clock_.now()).isOk());
  EXPECT_EQ(source_->acked(), 2);
  EXPECT_EQ(source_->nacked(), 2);
}

TEST_F(RabbitMqSourceTest, AfterADroppedConnectionWhatWasNotAckedComesAgainAndOldTagsAreNeverUsed) {
  broker_.publish("m1", "one");
  start();
  ASSERT_EQ(dispatcher_.waitForEvents(1).size(), 1u);
  broker_.dropConnection();
  // The source reconnects at once (the drop is seen on its next read) and gets
  // m1 again, redelivered: it moves it to the probation queue, and runs it
  // only once nothing else of the trigger is in flight (the first delivery is).
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 1; }));
  EXPECT_EQ(broker_.acked(), std::vector<std::string>{"m1"});
  EXPECT_EQ(broker_.opens(), 2);
  EXPECT_EQ(dispatcher_.dispatched(), 1u);

  // The first delivery's ack comes late: its tag belonged to the dropped
  // connection and must not be used on the new one.
  dispatcher_.complete(0, Outcome::kAcked);
  std::vector<Event> events = dispatcher_.waitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "m1");
  EXPECT_EQ(events[1].exits, 0);
  EXPECT_EQ(broker_.unknownTags(), 0);
  // A requeue of a probation message would come back redelivered, which reads
  // as a death: the same copy goes back instead, uncharged.
  dispatcher_.complete(1, Outcome::kRequeue);
  events = dispatcher_.waitForEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].id, "m1");
  EXPECT_EQ(events[2].exits, 0);
  dispatcher_.complete(2, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 2; }));
  EXPECT_EQ(broker_.requeued(), 0);
  EXPECT_EQ(broker_.probationCopies().size(), 2u);
  EXPECT_EQ(broker_.unknownTags(), 0);
}

TEST_F(RabbitMqSourceTest, AReconnectTheBrokerRefusesIsRetriedAfterTheDelayOnTheSourcesClock) {
  start();
  broker_.refuseConnections(true);
  broker_.dropConnection();
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.openAttempts() == 2; }));
  clock_.waitForSleepers(1);  // the reconnect delay (1 s), on the fake clock
  broker_.refuseConnections(false);
  broker_.publish("m1", "one");
  EXPECT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.openAttempts() == 2 && !b.open(); }))
      << "no retry before the delay is over";
  clock_.advance(1000ms);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.opens() == 2; }));
  EXPECT_EQ(dispatcher_.waitForEvents(1).size(), 1u);
}

TEST_F(RabbitMqSourceTest, WhileItsPrefetchIsInFlightTheSourceSendsHeartbeatsEveryThirdOfTheInterval) {
  broker_.publish("m1", "one");
  start(/*prefetch=*/1);
  ASSERT_EQ(dispatcher_.waitForEvents(1).size(), 1u);
  clock_.advance(10s);  // a third of the 30 s heartbeat interval since connecting
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.heartbeats() == 1; }));
  clock_.advance(10s);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.heartbeats() == 2; }));
  dispatcher_.complete(0, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 1; }));
}

class RabbitMqProbationTest : public RabbitMqSourceTest {
 protected:
  // The events dispatched so far, after waiting for `count`.
  std::vector<std::string> idsAfter(size_t count) {
    std::vector<std::string> ids;
    for (const Event& event : dispatcher_.waitForEvents(count)) ids.push_back(event.id);
    return ids;
  }
};

TEST_F(RabbitMqProbationTest, SuspectsAreMovedAndHandledOneAtATimeOnlyWhenNothingElseIsInFlight) {
  broker_.publish("m1", "one");
  broker_.publish("s1", "suspect", {{"h", "v"}}, /*redelivered=*/true);  // a classic queue's: only the flag
  broker_.publish("s2", "suspect", {{"x-delivery-count", "1"}});
  broker_.publish("m2", "two");
  start();
  EXPECT_EQ(idsAfter(2), (std::vector<std::string>{"m1", "m2"}));
  // Both suspects moved (copy first, then the ack of the original), none handled yet.
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 2; }));
  EXPECT_EQ(broker_.acked(), (std::vector<std::string>{"s1", "s2"}));
  ASSERT_EQ(broker_.probationCopies().size(), 2u);
  EXPECT_EQ(broker_.probationCopies()[1].second, Headers{})
      << "the source queue's delivery count is no charge: dropped from the copy";
  EXPECT_FALSE(broker_.probationQuorum()) << "the first suspect carried no x-delivery-count: a classic queue";
  EXPECT_EQ(dispatcher_.dispatched(), 2u);
  dispatcher_.complete(0, Outcome::kAcked);
  EXPECT_EQ(dispatcher_.dispatched(), 2u) << "m2 is still in flight";
  dispatcher_.complete(1, Outcome::kAcked);
  // Alone: s2 waits while s1 runs.
  EXPECT_EQ(idsAfter(3), (std::vector<std::string>{"m1", "m2", "s1"}));
  EXPECT_EQ(dispatcher_.dispatched(), 3u);
  EXPECT_EQ(dispatcher_.waitForEvents(3)[2].exits, 0);
  dispatcher_.complete(2, Outcome::kAcked);
  EXPECT_EQ(idsAfter(4), (std::vector<std::string>{"m1", "m2", "s1", "s2"}));
  dispatcher_.complete(3, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 2; }));
  EXPECT_EQ(broker_.probationAcked(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(broker_.rejected(), std::vector<std::string>{});
  EXPECT_EQ(broker_.probationReady(), 0u);
}

TEST_F(RabbitMqProbationTest, AQuorumQueuesSuspectMakesAQuorumProbationQueue) {
  broker_.publish("s1", "suspect", {{"x-delivery-count", "2"}}, /*redelivered=*/true);
  start();
  EXPECT_EQ(idsAfter(1), std::vector<std::string>{"s1"});
  EXPECT_TRUE(broker_.probationQuorum());
}

TEST_F(RabbitMqProbationTest, AProbationMessageBackRedeliveredDiedAloneAndIsChargedBeforeItRunsAgain) {
  // Another replica died while handling p alone: its first lone death, so p
  // is charged 2 (with the death among many that made it a suspect).
  broker_.publishProbation("p", "crash", {{"x-sluice-routing-key", "rk"}}, /*redelivered=*/true);
  broker_.publishProbation("q", "crash", {{"x-sluice-crashes", "2"}}, /*redelivered=*/true);
  start();
  std::vector<Event> events = dispatcher_.waitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "p");
  EXPECT_EQ(events[0].exits, 2);
  EXPECT_EQ(events[0].key, "rk") << "the original routing key, not the probation queue's";
  EXPECT_EQ(header(events[0], "x-sluice-routing-key"), "");
  ASSERT_GE(broker_.probationCopies().size(), 1u);
  EXPECT_EQ(broker_.probationCopies()[0].second, (Headers{{"x-sluice-crashes", "2"}, {"x-sluice-routing-key", "rk"}}));
  dispatcher_.complete(0, Outcome::kAcked);
  events = dispatcher_.waitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "q");
  EXPECT_EQ(events[1].exits, 3);  // the delivery loop dead-letters it unhandled when maxAttempts is 3
  dispatcher_.complete(1, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 4; }));
  // Each redelivered original acked once its charged copy was there, then each copy once handled.
  EXPECT_EQ(broker_.probationAcked(), (std::vector<std::string>{"p", "q", "p", "q"}));
  source_->stopFetching();
  ASSERT_TRUE(source_->finish(clock_.now()).isOk());
  EXPECT_EQ(source_->lonelyDeaths(), 2);
}

// With no dead-letter output, a message given up on is rejected into its
// queue's own dead-letter exchange; one given up on in probation goes back to
// the queue first (the probation queue has none) and is rejected there, unhandled.
TEST_F(RabbitMqProbationTest, AProbationMessageGivenUpOnIsRejectedFromTheSourceQueueNotDropped) {
  broker_.publishProbation("p", "fails", {{"x-sluice-routing-key", "rk"}});
  start();
  ASSERT_EQ(idsAfter(1), std::vector<std::string>{"p"});
  dispatcher_.complete(0, Outcome::kRejected);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.rejected().size() == 1; }));
  EXPECT_EQ(broker_.rejected(), std::vector<std::string>{"p"}) << "rejected from the source queue";
  EXPECT_EQ(broker_.probationAcked(), std::vector<std::string>{"p"}) << "acked in probation once back in the queue";
  EXPECT_EQ(dispatcher_.dispatched(), 1u) << "not handled again";
  EXPECT_EQ(broker_.ready(), 0u);
  EXPECT_EQ(broker_.probationReady(), 0u);
}

// The drop is seen by a heartbeat while the source holds back for the lone message.
TEST_F(RabbitMqProbationTest, AProbationMessageRedeliveredBecauseTheConnectionDroppedIsNoDeath) {
  broker_.publishProbation("p", "slow");
  start();
  ASSERT_EQ(dispatcher_.waitForEvents(1).size(), 1u);
  broker_.dropConnection();  // the process lives on: p's handler still runs
  clock_.advance(10s);       // the next heartbeat finds the connection gone
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.opens() == 2; }));
  EXPECT_EQ(dispatcher_.dispatched(), 1u) << "nothing else while p runs";
  dispatcher_.complete(0, Outcome::kAcked);  // its tag is void: p comes back redelivered
  std::vector<Event> events = dispatcher_.waitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "p");
  EXPECT_EQ(events[1].exits, 0);
  EXPECT_TRUE(broker_.probationCopies().empty()) << "not charged";
  dispatcher_.complete(1, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 1; }));
  EXPECT_EQ(broker_.unknownTags(), 0);
}

// The drop is seen only when the lone message's ack fails.
TEST_F(RabbitMqProbationTest, AProbationMessageWhoseAckFoundTheConnectionGoneIsNoDeath) {
  broker_.publishProbation("p", "slow");
  start();
  ASSERT_EQ(dispatcher_.waitForEvents(1).size(), 1u);
  broker_.dropConnection();
  dispatcher_.complete(0, Outcome::kAcked);
  std::vector<Event> events = dispatcher_.waitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "p");
  EXPECT_EQ(events[1].exits, 0);
  EXPECT_TRUE(broker_.probationCopies().empty()) << "not charged";
  EXPECT_EQ(broker_.opens(), 2);
  dispatcher_.complete(1, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.probationAcked().size() == 1; }));
}

}  // namespace
}  // namespace sluice::runtime
