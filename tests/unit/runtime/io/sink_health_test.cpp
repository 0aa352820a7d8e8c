// Unusable outputs (Sink::health): the delivery loop's intake status and the
// replica's health name the output; a write that fails while its sink is
// unhealthy waits, unacknowledged and without using attempts, and is written
// once the sink recovers; a stop meanwhile leaves it for redelivery. Which
// librdkafka errors count as unusable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clients/kafka_client.h"
#include "delivery_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_sink.h"
#include "runtime/delivery/delivery_loop.h"
#include "runtime/delivery/replica.h"

namespace sluice::runtime {
namespace {

using sluice::testing::FakeClock;
using sluice::testing::FakeHandler;
using sluice::testing::FakeSink;
using namespace std::chrono_literals;

Status wrongPassword() {
  return Status(StatusCode::kUnauthenticated, "SASL authentication error: invalid credentials");
}

struct LoopFixture {
  LoopFixture() : loop(options(), handler, {{"", &out}, {"audit", &audit}}, &deadLetter, metrics, clock) {
    loop.start();
  }
  static DeliveryOptions options() {
    DeliveryOptions options = fastOptions();
    options.workers = 2;
    // One attempt: without the health check, the first failed write would be dead-lettered.
    options.maxAttempts = 1;
    return options;
  }
  FakeClock clock;
  FakeHandler handler;
  FakeSink out;
  FakeSink audit;
  FakeSink deadLetter;
  RuntimeMetrics metrics;
  Completions outcomes;
  DeliveryLoop loop;
};

TEST(SinkHealthTest, IntakeStatusNamesTheFirstUnhealthyOutput) {
  LoopFixture f;
  EXPECT_TRUE(f.loop.intakeStatus().isOk());
  f.audit.setHealth(wrongPassword());
  EXPECT_EQ(f.loop.intakeStatus(),
            Status(StatusCode::kUnauthenticated, "output \"audit\": SASL authentication error: invalid credentials"));
  f.audit.setHealth(Status::ok());
  EXPECT_TRUE(f.loop.intakeStatus().isOk());
  // A dead-letter sink that is down does not stop the intake: records that succeed need no dead letter.
  f.deadLetter.setHealth(wrongPassword());
  EXPECT_TRUE(f.loop.intakeStatus().isOk());
}

TEST(SinkHealthTest, WriteFailingWhileItsSinkIsUnhealthyWaitsWithoutUsingAttemptsThenIsWritten) {
  LoopFixture f;
  std::atomic<bool> broken{true};
  f.out.setFailRule(
      [&](const Record&, int) { return broken ? unavailable("Local: Message timed out") : Status::ok(); });
  f.out.setHealth(wrongPassword());
  f.loop.dispatch(makeEvent("e"), "p0", "t", f.outcomes.callbackFor("e"));
  ASSERT_TRUE(waitUntil([&] { return f.metrics.counterValue("failed", "t") == 1; }));
  // Parked: not acked, not rejected, not dead-lettered, not written again while unhealthy.
  EXPECT_EQ(f.outcomes.count(), 0u);
  EXPECT_EQ(f.loop.inFlight(), 1);
  EXPECT_EQ(f.out.writes(), 1);
  EXPECT_EQ(f.deadLetter.writes(), 0);
  EXPECT_EQ(f.metrics.counterValue("dead_lettered", "t"), 0);

  broken = false;
  f.out.setHealth(Status::ok());
  ASSERT_TRUE(waitUntil([&] { return f.outcomes.count() == 1; }));
  EXPECT_EQ(f.outcomes.of("e"), Outcome::kAcked);
  EXPECT_EQ(f.out.writes(), 2);
  ASSERT_EQ(f.out.acknowledged().size(), 1u);
  EXPECT_EQ(f.out.acknowledged()[0].value, "payload-e");
  EXPECT_EQ(f.handler.calls().size(), 1u) << "the handler's output is written again, the handler not re-run";
  EXPECT_EQ(f.deadLetter.writes(), 0);
  // The loop acknowledges first and then leaves the event's in-flight place (a drain must not see
  // zero in flight before the acknowledgement is out): wait for that second step.
  EXPECT_TRUE(waitUntil([&] { return f.loop.inFlight() == 0; })) << f.loop.inFlight() << " still in flight";
}

TEST(SinkHealthTest, AFailureWhileTheSinkIsHealthyStillCountsAsAnAttempt) {
  LoopFixture f;
  f.out.setFailRule([](const Record&, int) { return unavailable("record too large"); });
  f.loop.dispatch(makeEvent("e"), "p0", "t", f.outcomes.callbackFor("e"));
  ASSERT_TRUE(waitUntil([&] { return f.outcomes.count() == 1; }));
  EXPECT_EQ(f.outcomes.of("e"), Outcome::kAcked);
  ASSERT_EQ(f.deadLetter.acknowledged().size(), 1u) << "maxAttempts is 1: given up and dead-lettered";
}

TEST(SinkHealthTest, StoppingWhileParkedLeavesTheEventUnacknowledged) {
  LoopFixture f;
  f.out.setFailRule([](const Record&, int) { return unavailable("Local: Message timed out"); });
  f.out.setHealth(wrongPassword());
  f.loop.dispatch(makeEvent("e"), "p0", "t", f.outcomes.callbackFor("e"));
  ASSERT_TRUE(waitUntil([&] { return f.metrics.counterValue("failed", "t") == 1; }));
  f.loop.stop();
  EXPECT_EQ(f.outcomes.count(), 0u) << "never completed: the source redelivers it";
  EXPECT_EQ(f.deadLetter.writes(), 0);
}

TEST(SinkHealthTest, ReplicaHealthNamesTheOutputThenTheDeadLetter) {
  FakeClock clock;
  RuntimeMetrics metrics;
  auto out = std::make_unique<FakeSink>();
  auto dead = std::make_unique<FakeSink>();
  auto trigger = std::make_unique<FakeSink>();
  FakeSink* outRaw = out.get();
  FakeSink* deadRaw = dead.get();
  FakeSink* triggerRaw = trigger.get();
  Replica::Outputs outputs;
  outputs.emplace_back("results", std::move(out));
  Replica replica(LoopFixture::options(), std::make_shared<FakeHandler>(), std::move(outputs), std::move(dead), {},
                  metrics, clock);
  replica.addTriggerDeadLetter("jobs", std::move(trigger));
  EXPECT_TRUE(replica.health().isOk());

  triggerRaw->setHealth(Status(StatusCode::kFailedPrecondition, "queue missing"));
  EXPECT_EQ(replica.health().message(), "trigger \"jobs\" dead-letter queue: queue missing");
  deadRaw->setHealth(Status(StatusCode::kFailedPrecondition, "topic authorization failed"));
  EXPECT_EQ(replica.health().message(), "dead-letter output: topic authorization failed");
  outRaw->setHealth(wrongPassword());
  // The default output "" is the same sink as "results": named once, by its name.
  EXPECT_EQ(replica.health().toString(),
            "Unauthenticated: output \"results\": SASL authentication error: invalid credentials");
}

TEST(SinkHealthTest, KafkaErrorsThatMakeAClientUnusable) {
  for (RdKafka::ErrorCode code :
       {RdKafka::ERR__AUTHENTICATION, RdKafka::ERR_SASL_AUTHENTICATION_FAILED, RdKafka::ERR__SSL,
        RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED, RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED, RdKafka::ERR__UNKNOWN_TOPIC,
        RdKafka::ERR_UNKNOWN_TOPIC_OR_PART}) {
    EXPECT_TRUE(clients::kafkaErrorIsUnusable(code)) << RdKafka::err2str(code);
  }
  // Transient trouble: librdkafka reconnects and retries by itself.
  for (RdKafka::ErrorCode code : {RdKafka::ERR__TRANSPORT, RdKafka::ERR__ALL_BROKERS_DOWN, RdKafka::ERR__MSG_TIMED_OUT,
                                  RdKafka::ERR_NOT_ENOUGH_REPLICAS, RdKafka::ERR_REQUEST_TIMED_OUT,
                                  RdKafka::ERR__TIMED_OUT, RdKafka::ERR_NO_ERROR}) {
    EXPECT_FALSE(clients::kafkaErrorIsUnusable(code)) << RdKafka::err2str(code);
  }
}

}  // namespace
}  // namespace sluice::runtime
