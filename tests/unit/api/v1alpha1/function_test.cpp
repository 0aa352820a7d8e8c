// Function objects into typed values and the rules derived from them.
#include "api/v1alpha1/function.h"

#include <gtest/gtest.h>

#include "api/function.h"

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

TEST(FunctionTest, ReadsMetadataScalingRequestAndStatus) {
  auto f = Function::fromJson({{"metadata",
                                {{"name", "orders"},
                                 {"namespace", "etl"},
                                 {"uid", "u"},
                                 {"generation", 4},
                                 {"deletionTimestamp", "2026-01-01T00:00:00Z"}}},
                               {"spec",
                                {{"scaling", {{"minReplicas", 1}, {"maxReplicas", 5}, {"cpuTargetUtilization", 60}}},
                                 {"resources", {{"requests", {{"cpu", "250m"}}}}}}},
                               {"status",
                                {{"desiredReplicas", 9},
                                 {"replicas", 2},
                                 {"readyReplicas", 1},
                                 {"imageDigest", "sha256:" + std::string(64, 'a')}}}});
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  EXPECT_EQ(f->metadata.name, "orders");
  EXPECT_EQ(f->metadata.ns, "etl");
  EXPECT_EQ(f->metadata.generation, 4);
  EXPECT_TRUE(f->metadata.deleting);
  EXPECT_EQ(f->scaling.maxReplicas, 5);
  EXPECT_TRUE(f->scalesOnCpu());
  EXPECT_EQ(f->cpuRequest, "250m");
  EXPECT_EQ(f->status.readyReplicas, 1);
  EXPECT_EQ(f->status.imageDigest, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(f->desiredReplicas(), 5) << "the autoscaler's 9, clamped to maxReplicas";
  EXPECT_EQ(f->warmPoolSize(3), 3) << "unset: the operator's default";
}

TEST(FunctionTest, DesiredReplicasIsTheSameRuleOnJsonAndOnTheType) {
  for (const json& object : {
           json{{"spec", {{"replicas", 2}, {"scaling", {{"maxReplicas", 1}}}}}},
           json{{"spec", {{"scaling", {{"minReplicas", 2}}}}}},
           json{{"spec", {{"scaling", {{"minReplicas", 1}, {"maxReplicas", 4}}}}},
                {"status", {{"desiredReplicas", 0}}}},
           json{{"spec", json::object()}, {"status", {{"desiredReplicas", 7}}}},
       }) {
    auto typed = Function::fromJson(object);
    ASSERT_TRUE(typed.isOk()) << object.dump();
    EXPECT_EQ(typed->desiredReplicas(), api::desiredReplicas(object)) << object.dump();
  }
  EXPECT_EQ(api::desiredReplicas({{"spec", {{"replicas", 2}}}}), 2);
  EXPECT_EQ(Function::fromJson({{"spec", {{"scaling", {{"warmPool", {{"size", 0}}}}}}}})->warmPoolSize(3), 0);
}

TEST(FunctionTest, ErrorsNameTheField) {
  EXPECT_EQ(Function::fromJson({{"spec", {{"scaling", {{"maxReplicas", "x"}}}}}}).status().message(),
            "spec.scaling.maxReplicas: \"x\" is not an integer");
  EXPECT_EQ(Function::fromJson({{"spec", {{"resources", 1}}}}).status().message(),
            "spec.resources: expected an object");
  EXPECT_EQ(Function::fromJson({{"status", {{"readyReplicas", "two"}}}}).status().message(),
            "status.readyReplicas: \"two\" is not an integer");
}

}  // namespace
}  // namespace sluice::api::v1alpha1
