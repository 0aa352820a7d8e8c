// Series computed from the informer caches at scrape time.
#include "metrics/state_collector.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include "fakes/fake_clock.h"

namespace sluice::metrics {
namespace {

using kube::Json;

kube::ObjectPtr object(Json json) { return std::make_shared<const Json>(std::move(json)); }

Json warmPod(const std::string& name, const std::string& pool, bool ready) {
  return {
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", "team-a"}, {"labels", {{"sluice.io/role", "warm"}, {"sluice.io/pool", pool}}}}},
      {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(StateCollectorTest, ReportsReplicasWarmPodsAndLeadership) {
  kube::ObjectCache functions;
  kube::ObjectCache pods;
  functions.upsert(object({{"metadata", {{"name", "etl"}, {"namespace", "team-a"}}},
                           {"spec", {{"scaling", {{"minReplicas", 0}, {"maxReplicas", 5}}}}},
                           {"status", {{"desiredReplicas", 3}, {"readyReplicas", 2}}}}));
  functions.upsert(object({{"metadata", {{"name", "pinned"}, {"namespace", "team-b"}}},
                           {"spec", {{"replicas", 1}, {"scaling", {{"maxReplicas", 4}}}}},
                           {"status", {{"desiredReplicas", 4}}}}));
  pods.upsert(object(warmPod("w1", "abc", true)));
  pods.upsert(object(warmPod("w2", "abc", true)));
  pods.upsert(object(warmPod("w3", "abc", false)));
  Json replica = warmPod("r1", "abc", true);
  replica["metadata"]["labels"]["sluice.io/role"] = "replica";
  pods.upsert(object(replica));  // a specialized replica is not in the pool

  bool leading = false;
  StateCollector collector(functions, pods, [&leading] { return leading; });
  std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_TRUE(has(text, "sluice_function_desired_replicas{function=\"team-a/etl\"} 3")) << text;
  EXPECT_TRUE(has(text, "sluice_function_ready_replicas{function=\"team-a/etl\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_function_max_replicas{function=\"team-a/etl\"} 5")) << text;
  // Pinned with `kubectl scale`: spec.replicas wins over the autoscaler.
  EXPECT_TRUE(has(text, "sluice_function_desired_replicas{function=\"team-b/pinned\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_function_ready_replicas{function=\"team-b/pinned\"} 0")) << text;
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"true\"} 2")) << text;
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"false\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_operator_is_leader 0")) << text;

  leading = true;
  text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_TRUE(has(text, "sluice_operator_is_leader 1")) << text;
}

// A pool all of whose pods were adopted reads 0 until refilled, not "no data";
// one gone for longer than kPoolMemory is forgotten.
TEST(StateCollectorTest, AnEmptiedPoolReadsZeroUntilForgotten) {
  kube::ObjectCache functions;
  kube::ObjectCache pods;
  testing::FakeClock clock;
  pods.upsert(object(warmPod("w1", "abc", true)));
  StateCollector collector(
      functions, pods, [] { return true; }, clock);
  std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"true\"} 1")) << text;
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"false\"} 0")) << text;

  pods.erase("team-a/w1");  // adopted
  clock.advance(StateCollector::kPoolMemory);
  text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"true\"} 0")) << text;
  EXPECT_TRUE(has(text, "sluice_warmpool_pods{namespace=\"team-a\",pool=\"abc\",ready=\"false\"} 0")) << text;

  clock.advance(std::chrono::seconds(1));
  text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_EQ(text.find("sluice_warmpool_pods{"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::metrics
