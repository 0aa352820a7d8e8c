// RabbitMqSource's bookkeeping over the in-memory broker of
// fakes/fake_amqp_consumer.h (no RabbitMQ): a delivery is acked only once the
// delivery loop acked it, nacked with requeue or rejected as it says; after a
// dropped connection what was not acked is delivered again and the old
// connection's tags are never used on the new one; reconnects and heartbeats
// are timed on the source's clock.
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

  // Requeued: the broker delivers it again, marked so.
  dispatcher_.complete(0, Outcome::kRequeue);
  events = dispatcher_.waitForEvents(4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].id, "m1");
  EXPECT_EQ(header(events[3], "x-redelivered"), "true");
  dispatcher_.complete(3, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 2; }));
  EXPECT_EQ(broker_.acked(), (std::vector<std::string>{"m2", "m1"}));
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
  // The source reconnects at once (the drop is seen on its next read) and gets m1 again.
  std::vector<Event> events = dispatcher_.waitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "m1");
  EXPECT_EQ(header(events[1], "x-redelivered"), "true");
  EXPECT_EQ(broker_.opens(), 2);

  // The first delivery's ack comes late: its tag (1) belonged to the dropped
  // connection and must not ack tag 1 of the new one (m1's redelivery).
  dispatcher_.complete(0, Outcome::kAcked);
  dispatcher_.complete(1, Outcome::kRequeue);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.requeued() == 1; }));
  EXPECT_TRUE(broker_.acked().empty()) << "the late ack went to the new connection";
  EXPECT_EQ(broker_.unknownTags(), 0);
  events = dispatcher_.waitForEvents(3);
  ASSERT_EQ(events.size(), 3u);
  dispatcher_.complete(2, Outcome::kAcked);
  ASSERT_TRUE(broker_.waitFor([](const FakeAmqpBroker& b) { return b.acked().size() == 1; }));
  EXPECT_EQ(broker_.acked(), std::vector<std::string>{"m1"});
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

}  // namespace
}  // namespace sluice::runtime
