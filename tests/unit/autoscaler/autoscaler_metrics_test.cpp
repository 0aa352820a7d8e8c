// The autoscaler's series after a few decisions, read back through the registry.
#include "autoscaler/autoscaler_metrics.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include "fakes/fake_clock.h"

namespace sluice::autoscaler {
namespace {

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(AutoscalerMetricsTest, DecisionsAreCountedByDirectionAndReason) {
  auto registry = std::make_shared<prometheus::Registry>();
  AutoscalerMetrics metrics(registry);
  testing::FakeClock clock;
  DecisionEngine engine(ScalingPolicy{}, clock);
  MetricObservation lag;
  lag.name = "kafka/g/orders";
  lag.target = 10;
  lag.value = 5;
  metrics.recordDecision("default/etl", engine.decide(0, {lag}));  // 0 -> 1 Activation
  metrics.recordDecision("default/etl", engine.decide(1, {lag}));  // no change: not counted
  MetricObservation broken = lag;
  broken.value.reset();
  broken.error = "down";
  metrics.recordDecision("default/etl", engine.decide(1, {broken}));
  metrics.recordScalerRead("default/etl", "kafka/g/orders", 0.02);
  metrics.recordLoop(0.03);

  std::string text = scrape(*registry);
  EXPECT_NE(text.find("sluice_autoscaler_scale_decisions_total{direction=\"up\",function=\"default/etl\","
                      "reason=\"Activation\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("direction=\"none\""), std::string::npos);
  EXPECT_NE(text.find("sluice_autoscaler_scaler_value{function=\"default/etl\",scaler=\"kafka/g/orders\"} 5"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_autoscaler_scaler_errors_total{function=\"default/etl\",scaler=\"kafka/g/orders\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_autoscaler_desired_replicas{function=\"default/etl\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sluice_autoscaler_loop_latency_seconds_count 1"), std::string::npos);
  EXPECT_NE(
      text.find("sluice_autoscaler_scaler_latency_seconds_count{function=\"default/etl\",scaler=\"kafka/g/orders\"} 1"),
      std::string::npos);
}

TEST(AutoscalerMetricsTest, MeasuredRatesAreGauges) {
  auto registry = std::make_shared<prometheus::Registry>();
  AutoscalerMetrics metrics(registry);
  testing::FakeClock clock;
  DecisionEngine engine(ScalingPolicy{}, clock);
  MetricObservation lag;
  lag.name = "kafka/g/orders";
  lag.target = 10;
  lag.value = 0;
  metrics.recordDecision("default/etl", engine.decide(1, {lag}));
  // No rate measured yet: no series.
  EXPECT_EQ(scrape(*registry).find("sluice_autoscaler_arrival_rate{"), std::string::npos);
  lag.arrivalRate = 450;
  lag.perReplicaRate = 100;
  metrics.recordDecision("default/etl", engine.decide(1, {lag}));
  std::string text = scrape(*registry);
  EXPECT_NE(text.find("sluice_autoscaler_arrival_rate{function=\"default/etl\",scaler=\"kafka/g/orders\"} 450"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_autoscaler_per_replica_rate{function=\"default/etl\",scaler=\"kafka/g/orders\"} 100"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::autoscaler
