// A Kafka trigger's ordering (the Trigger's spec.delivery.ordering) as the
// handler sees it: KafkaSource over the in-memory group of
// fakes/fake_kafka_consumer.h feeding a real DeliveryLoop that may make four
// handler calls at once. With ordering partition the records of one partition
// never overlap; with none they do, up to that concurrency, and the committed
// offset still covers every record once all finished.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "delivery_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_kafka_consumer.h"
#include "fakes/fake_sink.h"
#include "runtime/sources/kafka_source.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeHandler;
using testing::FakeKafkaGroup;
using testing::FakeSink;

constexpr int kRecords = 3;

// Counts handler calls at once. Each call waits for kRecords calls to be in at
// the same time, bounded by `patience`: with ordering none they all get in;
// with partition order they cannot, and each call gives up after `patience`.
class Overlap {
 public:
  explicit Overlap(std::chrono::milliseconds patience) : patience_(patience) {}
  Result<std::vector<Record>> call(const Event& event, const InvocationContext& context) {
    std::unique_lock lock(mu_);
    ++inside_;
    most_ = std::max(most_, inside_);
    cv_.notify_all();
    cv_.wait_for(lock, patience_, [&] { return most_ >= kRecords; });
    --inside_;
    return FakeHandler::echo(event, context);
  }
  int most() {
    std::lock_guard lock(mu_);
    return most_;
  }

 private:
  std::chrono::milliseconds patience_;
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  int most_ = 0;
};

// The most handler calls at once over kRecords records of one partition, and the offset committed at the end.
std::pair<int, int64_t> run(bool ordered, std::chrono::milliseconds patience) {
  Overlap overlap(patience);
  FakeHandler handler([&](const Event& e, const InvocationContext& c) { return overlap.call(e, c); });
  FakeSink out;
  RuntimeMetrics metrics;
  FakeClock clock;
  DeliveryOptions options = fastOptions();
  options.workers = 4;
  options.handlerConcurrency = 4;
  DeliveryLoop loop(options, handler, {{"", &out}}, nullptr, metrics, clock);
  loop.start();
  FakeKafkaGroup group;
  KafkaSourceOptions source;
  source.triggerName = "orders";
  source.bootstrapServers = "fake:9092";
  source.topics = {"orders"};
  source.consumerGroup = "billing";
  source.initialOffset = "earliest";
  source.commitInterval = 1s;
  source.lagInterval = 1h;
  source.ordered = ordered;
  // Produced before the source starts, so one poll reads them all as one batch of the partition.
  for (int i = 0; i < kRecords; ++i) group.produce("orders", 0, "r" + std::to_string(i));
  auto kafka = std::make_unique<KafkaSource>(source, metrics, clock, group.consumer());
  EXPECT_TRUE(kafka->start(loop).isOk());
  group.assignInsidePoll({{"orders", 0}});
  EXPECT_TRUE(waitUntil([&] { return out.acknowledged().size() == static_cast<size_t>(kRecords); }));
  kafka->stopFetching();
  EXPECT_TRUE(kafka->finish(clock.now()).isOk());  // commits what finished
  loop.stop();
  return {overlap.most(), group.committedOffset("orders", 0)};
}

TEST(KafkaOrderingTest, PartitionOrderNeverOverlapsARecordsCalls) {
  auto [most, committed] = run(/*ordered=*/true, /*patience=*/100ms);
  EXPECT_EQ(most, 1);
  EXPECT_EQ(committed, kRecords);
}

TEST(KafkaOrderingTest, NoOrderingRunsAPartitionsRecordsAtOnce) {
  auto [most, committed] = run(/*ordered=*/false, /*patience=*/20s);
  EXPECT_EQ(most, kRecords);
  EXPECT_EQ(committed, kRecords);
}

}  // namespace
}  // namespace sluice::runtime
