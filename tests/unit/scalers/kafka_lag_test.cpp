// KEDA's Kafka lag rules computed from fake offset data: lag per partition,
// partitions without a commit by offset-reset policy, the partition cap,
// limitToPartitionsWithLag, excludePersistentLag, activation, and the
// counters the rate policy reads.
#include "scalers/kafka_lag.h"

#include <gtest/gtest.h>

namespace sluice::scalers {
namespace {

class FakeOffsetSource final : public KafkaOffsetSource {
 public:
  Result<std::vector<PartitionOffsets>> fetch(const std::string& group, const std::vector<std::string>&) override {
    lastGroup = group;
    if (!error.isOk()) return error;
    return offsets;
  }
  std::vector<PartitionOffsets> offsets;
  Status error;
  std::string lastGroup;
};

// committed -1 = no commit.
std::vector<PartitionOffsets> partitions(const std::vector<std::pair<int64_t, int64_t>>& committedAndLatest) {
  std::vector<PartitionOffsets> out;
  out.reserve(committedAndLatest.size());
  int32_t id = 0;
  for (auto [committed, latest] : committedAndLatest) out.push_back({"orders", id++, committed, latest});
  return out;
}

struct LagCase {
  std::string name;
  KafkaLagOptions options;
  std::vector<std::pair<int64_t, int64_t>> offsets;
  int64_t expectedLag;
  int64_t expectedLagWithPersistent;
};

KafkaLagOptions opts(auto edit) {
  KafkaLagOptions o;
  o.consumerGroup = "g";
  o.topics = {"orders"};
  edit(o);
  return o;
}
auto none = [](KafkaLagOptions&) {};

TEST(KafkaLagCalculatorTest, KedaRules) {
  const std::vector<LagCase> cases = {
      {"lag is latest minus committed", opts(none), {{10, 15}, {0, 3}, {7, 7}}, 8, 8},
      {"no commit with latest policy counts 1", opts(none), {{-1, 500}, {-1, 0}}, 2, 2},
      {"no commit with earliest policy counts the latest offset",
       opts([](KafkaLagOptions& o) { o.offsetResetPolicy = OffsetResetPolicy::kEarliest; }),
       {{-1, 500}, {-1, 0}},
       20,  // 500 capped at 2 partitions x 10
       500},
      {"no commit with earliest policy, uncapped",
       opts([](KafkaLagOptions& o) {
         o.offsetResetPolicy = OffsetResetPolicy::kEarliest;
         o.allowIdleConsumers = true;
       }),
       {{-1, 500}, {-1, 7}},
       507,
       507},
      {"scaleToZeroOnInvalidOffset counts 0",
       opts([](KafkaLagOptions& o) { o.scaleToZeroOnInvalidOffset = true; }),
       {{-1, 500}},
       0,
       0},
      {"committed past a stale watermark is no lag", opts(none), {{20, 18}}, 0, 0},
      {"capped at partitions x threshold", opts(none), {{0, 1000}, {0, 1000}, {0, 0}}, 30, 2000},
      {"cap bites only when whole replicas exceed partitions", opts(none), {{0, 39}, {0, 0}, {0, 0}}, 39, 39},
      {"allowIdleConsumers lifts the cap",
       opts([](KafkaLagOptions& o) { o.allowIdleConsumers = true; }),
       {{0, 1000}, {0, 1000}, {0, 0}},
       2000,
       2000},
      {"limitToPartitionsWithLag caps at partitions with lag",
       opts([](KafkaLagOptions& o) { o.limitToPartitionsWithLag = true; }),
       {{0, 1000}, {5, 5}, {0, 0}, {3, 3}},
       10,
       1000},
      {"limitToPartitionsWithLag wins over allowIdleConsumers",
       opts([](KafkaLagOptions& o) {
         o.limitToPartitionsWithLag = true;
         o.allowIdleConsumers = true;
       }),
       {{0, 1000}, {0, 1000}, {0, 0}},
       20,
       2000},
      {"lagThreshold 100 cap",
       opts([](KafkaLagOptions& o) { o.lagThreshold = 100; }),
       {{0, 5000}, {0, 5000}},
       200,
       10000},
  };
  for (const LagCase& c : cases) {
    KafkaLagCalculator calculator(c.options);
    KafkaLag lag = calculator.compute(partitions(c.offsets));
    EXPECT_EQ(lag.totalLag, c.expectedLag) << c.name;
    EXPECT_EQ(lag.totalLagWithPersistent, c.expectedLagWithPersistent) << c.name;
  }
}

TEST(KafkaLagCalculatorTest, ExcludePersistentLagIgnoresPartitionsWhoseCommitDidNotMove) {
  KafkaLagCalculator calculator(opts([](KafkaLagOptions& o) { o.excludePersistentLag = true; }));
  // First round: nothing to compare with, all lag counts.
  KafkaLag first = calculator.compute(partitions({{10, 20}, {5, 9}}));
  EXPECT_EQ(first.totalLag, 14);
  // Partition 0 is stuck at 10; partition 1 moved from 5 to 7.
  KafkaLag second = calculator.compute(partitions({{10, 25}, {7, 12}}));
  EXPECT_EQ(second.totalLag, 5);
  EXPECT_EQ(second.totalLagWithPersistent, 20);
  EXPECT_EQ(second.partitionsWithLag, 1);
}

TEST(KafkaLagScalerTest, ReadingCarriesValueActivationAndTarget) {
  auto source = std::make_shared<FakeOffsetSource>();
  KafkaLagOptions o = opts([](KafkaLagOptions& x) { x.activationLagThreshold = 5; });
  KafkaLagScaler scaler(o, source);
  EXPECT_EQ(scaler.name(), "kafka/g/orders");
  EXPECT_EQ(scaler.target().target, 10);
  EXPECT_EQ(scaler.target().activationThreshold, 5);

  source->offsets = partitions({{0, 3}, {0, 2}});
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 5);
  EXPECT_FALSE(reading->active);  // 5 is not above the activation threshold 5
  EXPECT_EQ(source->lastGroup, "g");

  source->offsets = partitions({{0, 3}, {0, 3}});
  EXPECT_TRUE(scaler.read()->active);
}

TEST(KafkaLagScalerTest, ErrorsCarryTheGroup) {
  auto source = std::make_shared<FakeOffsetSource>();
  source->error = unavailable("all brokers down");
  KafkaLagScaler scaler(opts(none), source);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_FALSE(reading.isOk());
  EXPECT_EQ(reading.status().message(), "kafka lag of group g: all brokers down");
  EXPECT_TRUE(reading.status().isRetryable());

  autoscaler::MetricObservation observation = observe(scaler);
  EXPECT_FALSE(observation.value.has_value());
  EXPECT_EQ(observation.error, "Unavailable: kafka lag of group g: all brokers down");
}

TEST(KafkaLagScalerTest, EmptyTopicListIsAnError) {
  auto source = std::make_shared<FakeOffsetSource>();
  KafkaLagScaler scaler(opts(none), source);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_FALSE(reading.isOk());
  EXPECT_EQ(reading.status().code(), StatusCode::kNotFound);
}

TEST(KafkaLagScalerTest, ReadingCarriesTheCountersOfTheRatePolicy) {
  auto source = std::make_shared<FakeOffsetSource>();
  source->offsets = partitions({{100, 600}, {50, 80}});
  KafkaLagScaler scaler(opts(none), source);
  autoscaler::MetricObservation observation = observe(scaler);
  EXPECT_EQ(observation.value, 20);  // 530 capped at 2 partitions x 10
  EXPECT_EQ(observation.backlog, 530);
  EXPECT_EQ(observation.processedTotal, 150);
  EXPECT_EQ(observation.arrivedTotal, 680);
  EXPECT_EQ(observation.partitions, 2);
  // A partition without a commit yet: its first commit would read as a burst of work done.
  source->offsets = partitions({{100, 600}, {-1, 80}});
  observation = observe(scaler);
  EXPECT_FALSE(observation.processedTotal);
  EXPECT_EQ(observation.arrivedTotal, 680);
}

}  // namespace
}  // namespace sluice::scalers
