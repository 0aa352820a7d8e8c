// The replicas' own throughput counters for the rate policy: summing labelled
// series, replicas that do not answer or have no handler yet, and the Kafka lag
// scaler reading them instead of its committed offsets.
#include "scalers/replica_counters.h"

#include <gtest/gtest.h>

#include <memory>

#include "fakes/fake_url_http_client.h"
#include "scalers/kafka_lag.h"
#include "scalers/prometheus_text.h"

namespace sluice::scalers {
namespace {

constexpr const char* kReplicaA = R"(# HELP sluice_runtime_events_processed_total Events handled
# TYPE sluice_runtime_events_processed_total counter
sluice_runtime_events_processed_total{source="kafka",trigger="a b"} 300
sluice_runtime_events_processed_total{source="http"} 100
sluice_runtime_events_processed_totals 7
sluice_runtime_handler_duration_seconds_sum{handler="main"} 2.5
sluice_runtime_handler_duration_seconds_count{handler="main"} 400
)";

TEST(ReplicaCountersTest, SumsEverySampleOfTheSeriesAndOnlyThatSeries) {
  EXPECT_EQ(sumPrometheusSamples(kReplicaA, kProcessedSeries), 400);
  EXPECT_EQ(sumPrometheusSamples(kReplicaA, kBusySecondsSeries), 2.5);
  EXPECT_FALSE(sumPrometheusSamples(kReplicaA, "sluice_runtime_events_failed_total"));
}

TEST(ReplicaCountersTest, SumsTheReplicasThatAnswerWithBothSeries) {
  testing::FakeUrlHttpClient http;
  http.answer("http://a/metrics", 200, kReplicaA);
  http.answer("http://b/metrics", 200,
              "sluice_runtime_events_processed_total 50\nsluice_runtime_handler_duration_seconds_sum 0.5\n");
  http.answer("http://warm/metrics", 200, "process_cpu_seconds_total 3\n");  // not specialized: no handler yet
  http.fail("http://gone/metrics", "connection refused");
  ReplicaCountersOptions options;
  options.metricsUrls = [] {
    return std::vector<std::string>{"http://a/metrics", "http://b/metrics", "http://warm/metrics",
                                    "http://gone/metrics"};
  };
  std::optional<ReplicaCounters> counters = readReplicaCounters(options, http);
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->processed, 450);
  EXPECT_EQ(counters->busySeconds, 3);
  EXPECT_EQ(counters->replicas, 2);
  options.metricsUrls = [] { return std::vector<std::string>{"http://gone/metrics"}; };
  EXPECT_FALSE(readReplicaCounters(options, http));
}

class OneOffsetSource final : public KafkaOffsetSource {
 public:
  Result<std::vector<PartitionOffsets>> fetch(const std::string&, const std::vector<std::string>&) override {
    return std::vector<PartitionOffsets>{{"orders", 0, 100, 600}};
  }
};

TEST(ReplicaCountersTest, KafkaLagScalerPrefersTheReplicasCountersToItsOffsets) {
  KafkaLagOptions options;
  options.consumerGroup = "g";
  options.topics = {"orders"};
  options.replicaCounters = [] { return std::optional<ReplicaCounters>(ReplicaCounters{450, 3, 2}); };
  KafkaLagScaler scaler(options, std::make_shared<OneOffsetSource>());
  autoscaler::MetricObservation observation = observe(scaler);
  EXPECT_EQ(observation.processedTotal, 450);
  EXPECT_EQ(observation.busySecondsTotal, 3);
  EXPECT_EQ(observation.arrivedTotal, 600);
  // No replica reachable: the committed offsets, without busy time.
  options.replicaCounters = [] { return std::optional<ReplicaCounters>(); };
  KafkaLagScaler offsetsOnly(options, std::make_shared<OneOffsetSource>());
  observation = observe(offsetsOnly);
  EXPECT_EQ(observation.processedTotal, 100);
  EXPECT_FALSE(observation.busySecondsTotal);
}

}  // namespace
}  // namespace sluice::scalers
