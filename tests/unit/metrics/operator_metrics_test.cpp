// The operator's own series (metrics/operator_metrics.h) as a scrape shows them.
#include "metrics/operator_metrics.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include "fakes/fake_clock.h"

namespace sluice::metrics {
namespace {

using namespace std::chrono_literals;

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

class OperatorMetricsTest : public ::testing::Test {
 protected:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  testing::FakeClock clock_;
  OperatorMetrics metrics_{registry_, "1.2.3", clock_};
};

TEST_F(OperatorMetricsTest, BuildInfoCarriesTheVersion) {
  EXPECT_TRUE(has(scrape(*registry_), "sluice_operator_build_info{version=\"1.2.3\"} 1")) << scrape(*registry_);
}

TEST_F(OperatorMetricsTest, ReconcilesAreCountedByControllerAndResult) {
  metrics_.reconciled("function", reconcile::kReconcileSuccess, 0.02);
  metrics_.reconciled("function", reconcile::kReconcileSuccess, 0.03);
  metrics_.reconciled("function", reconcile::kReconcileError, 0.5);
  metrics_.reconciled("trigger", reconcile::kReconcileRequeueAfter, 0.001);
  std::string text = scrape(*registry_);
  EXPECT_TRUE(has(text, "sluice_controller_reconciles_total{controller=\"function\",result=\"success\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_controller_reconciles_total{controller=\"function\",result=\"error\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_controller_reconciles_total{controller=\"trigger\",result=\"requeue_after\"} 1"))
      << text;
  EXPECT_TRUE(has(text, "sluice_controller_reconcile_duration_seconds_count{controller=\"function\"} 3")) << text;
  EXPECT_TRUE(has(text, "sluice_controller_reconcile_duration_seconds_sum{controller=\"function\"} 0.55")) << text;
}

TEST_F(OperatorMetricsTest, AControllerSeriesStartAtZero) {
  metrics_.registerController("warmpool");
  std::string text = scrape(*registry_);
  EXPECT_TRUE(has(text, "sluice_workqueue_retries_total{name=\"warmpool\"} 0")) << text;
  EXPECT_TRUE(has(text, "sluice_controller_reconciles_total{controller=\"warmpool\",result=\"error\"} 0")) << text;
}

TEST_F(OperatorMetricsTest, WorkQueueSeriesByName) {
  metrics_.queueAdded("function");
  metrics_.queueAdded("function");
  metrics_.queueDepth("function", 2);
  metrics_.queueRetried("function");
  std::string text = scrape(*registry_);
  EXPECT_TRUE(has(text, "sluice_workqueue_adds_total{name=\"function\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_workqueue_depth{name=\"function\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_workqueue_retries_total{name=\"function\"} 1")) << text;
}

TEST_F(OperatorMetricsTest, ColdStartRunsFromDesiredLeavingZeroToTheFirstReadyReplica) {
  metrics_.functionReplicas("ns/etl", 0, 0, true);
  clock_.advance(10s);  // idle time at zero is not part of a cold start
  metrics_.functionReplicas("ns/etl", 1, 0, true);
  clock_.advance(1500ms);
  metrics_.functionReplicas("ns/etl", 2, 0, true);  // more replicas asked for: the same cold start
  clock_.advance(500ms);
  metrics_.functionReplicas("ns/etl", 2, 1, true);
  clock_.advance(1s);
  metrics_.functionReplicas("ns/etl", 2, 2, true);  // already warm: nothing more
  std::string text = scrape(*registry_);
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_count{function=\"ns/etl\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_sum{function=\"ns/etl\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_bucket{function=\"ns/etl\",le=\"2\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_bucket{function=\"ns/etl\",le=\"1\"} 0")) << text;
}

TEST_F(OperatorMetricsTest, BackToZeroBeforeReadyIsNoColdStart) {
  metrics_.functionReplicas("ns/etl", 1, 0, true);
  clock_.advance(3s);
  metrics_.functionReplicas("ns/etl", 0, 0, true);
  metrics_.functionReplicas("ns/etl", 0, 1, true);  // a late ready pod while scaling down
  EXPECT_TRUE(has(scrape(*registry_), "sluice_function_cold_start_seconds_count{function=\"ns/etl\"} 0"))
      << scrape(*registry_);
  metrics_.functionDeleted("ns/etl");
  EXPECT_EQ(scrape(*registry_).find("ns/etl"), std::string::npos) << scrape(*registry_);
}

TEST_F(OperatorMetricsTest, OnlyTheLeaderObservesButStandbysFollow) {
  metrics_.functionReplicas("ns/etl", 1, 0, false);
  clock_.advance(1s);
  metrics_.functionReplicas("ns/etl", 1, 1, false);  // standby: followed, not observed
  metrics_.functionReplicas("ns/etl", 0, 0, true);   // now leading
  metrics_.functionReplicas("ns/etl", 1, 0, true);
  clock_.advance(250ms);
  metrics_.functionReplicas("ns/etl", 1, 1, true);
  std::string text = scrape(*registry_);
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_count{function=\"ns/etl\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_function_cold_start_seconds_sum{function=\"ns/etl\"} 0.25")) << text;
}

}  // namespace
}  // namespace sluice::metrics
