// spec.scaling of a Function (as the apiserver returns it) into the engine's ScalingPolicy.
#include "api/v1alpha1/scaling.h"

#include <gtest/gtest.h>

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

TEST(ScalingFromSpecTest, EmptySpecGivesHpaAndKedaDefaults) {
  auto policy = scalingPolicyFromSpec(json::object());
  ASSERT_TRUE(policy.isOk()) << policy.status().toString();
  EXPECT_EQ(policy->minReplicas, 0);
  EXPECT_EQ(policy->maxReplicas, 100);
  EXPECT_FALSE(policy->cooldownSeconds);
  EXPECT_EQ(policy->cooldown(), 60);  // the rate rule's
  EXPECT_EQ(policy->pollingIntervalSeconds, 15);
  EXPECT_LE(policy->activationIntervalMilliseconds, 1000);
  EXPECT_EQ(policy->scaleDown.stabilizationWindowSeconds, 300);
  EXPECT_EQ(policy->scaleUp.policies.size(), 2u);
  EXPECT_FALSE(policy->fallback);
  EXPECT_FALSE(policy->pause.pinnedReplicas);
  EXPECT_EQ(policy->mode, autoscaler::ScalingMode::kRate);
  EXPECT_EQ(policy->drainTargetSeconds, 2);
}

TEST(ScalingFromSpecTest, PolicyAndDrainTarget) {
  auto backlog = scalingPolicyFromSpec(json::parse(R"({"scaling": {"policy": "backlog"}})"));
  ASSERT_TRUE(backlog.isOk()) << backlog.status().toString();
  EXPECT_EQ(backlog->mode, autoscaler::ScalingMode::kBacklog);
  EXPECT_EQ(backlog->cooldown(), 300);  // KEDA's cooldownPeriod
  auto rate = scalingPolicyFromSpec(json::parse(R"({"scaling": {"policy": "rate", "drainTargetSeconds": 90}})"));
  ASSERT_TRUE(rate.isOk()) << rate.status().toString();
  EXPECT_EQ(rate->mode, autoscaler::ScalingMode::kRate);
  EXPECT_EQ(rate->drainTargetSeconds, 90);
}

TEST(ScalingFromSpecTest, EveryField) {
  auto policy = scalingPolicyFromSpec(json::parse(R"({
    "replicas": 3,
    "scaling": {
      "minReplicas": 1, "maxReplicas": 6, "cooldownSeconds": 5, "pollingIntervalSeconds": 2,
      "cpuTargetUtilization": 70,
      "scaleUp": {"stabilizationWindowSeconds": 10, "selectPolicy": "Min",
                  "policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}]},
      "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled"},
      "burst": {"windowSeconds": 3, "thresholdPercent": 150},
      "warmPool": {"size": 2},
      "fallback": {"failureThreshold": 4, "replicas": 2}
    }})"));
  ASSERT_TRUE(policy.isOk()) << policy.status().toString();
  EXPECT_EQ(policy->minReplicas, 1);
  EXPECT_EQ(policy->maxReplicas, 6);
  EXPECT_EQ(policy->cooldownSeconds.value_or(-1), 5);
  EXPECT_EQ(policy->cooldown(), 5);
  EXPECT_EQ(policy->pollingIntervalSeconds, 2);
  EXPECT_EQ(policy->targetCPUUtilizationPercentage, 70);
  EXPECT_EQ(policy->scaleUp.stabilizationWindowSeconds, 10);
  EXPECT_EQ(policy->scaleUp.selectPolicy, autoscaler::SelectPolicy::kMin);
  ASSERT_EQ(policy->scaleUp.policies.size(), 1u);
  EXPECT_EQ(policy->scaleUp.policies[0].type, autoscaler::ScalingRule::Type::kPods);
  EXPECT_EQ(policy->scaleUp.policies[0].value, 2);
  EXPECT_EQ(policy->scaleUp.policies[0].periodSeconds, 30);
  EXPECT_EQ(policy->scaleDown.stabilizationWindowSeconds, 0);
  EXPECT_EQ(policy->scaleDown.selectPolicy, autoscaler::SelectPolicy::kDisabled);
  EXPECT_EQ(policy->burst.windowSeconds, 3);
  EXPECT_EQ(policy->burst.thresholdPercent, 150);
  EXPECT_EQ(policy->warmPool, 2);
  ASSERT_TRUE(policy->fallback);
  EXPECT_EQ(policy->fallback->failureThreshold, 4);
  EXPECT_EQ(policy->fallback->replicas, 2);
  EXPECT_EQ(policy->pause.pinnedReplicas, 3);
}

TEST(ScalingFromSpecTest, ErrorsNameTheField) {
  struct Case {
    const char* spec;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({"scaling": {"maxReplicas": "x"}})", "spec.scaling.maxReplicas: \"x\" is not an integer"},
           Case{R"({"scaling": {"minReplicas": 3, "maxReplicas": 2}})",
                "spec.scaling.maxReplicas: 2 is below minReplicas 3"},
           Case{R"({"scaling": {"scaleUp": {"selectPolicy": "Most"}}})",
                "spec.scaling.scaleUp.selectPolicy: \"Most\" is not Max, Min or Disabled"},
           Case{R"({"scaling": {"scaleDown": {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 5}]}}})",
                "spec.scaling.scaleDown.policies[0].type: \"Nodes\" is not Pods or Percent"},
           Case{R"({"scaling": {"scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 5}]}}})",
                "spec.scaling.scaleDown.policies[0].value: 0 must be positive"},
           Case{R"({"scaling": {"burst": []}})", "spec.scaling.burst: expected an object"},
           Case{R"({"scaling": {"fallback": {"replicas": 0}}})",
                "spec.scaling.fallback.replicas: 0 must be at least 1 (a failing scaler never scales to zero)"},
           Case{R"({"replicas": -1})", "spec.replicas: -1 is negative"},
           Case{R"({"scaling": 5})", "spec.scaling: expected an object"},
           Case{R"({"scaling": {"policy": "fast"}})", "spec.scaling.policy: \"fast\" is not backlog or rate"},
           Case{R"({"scaling": {"drainTargetSeconds": 0}})", "spec.scaling.drainTargetSeconds: 0 is outside 1..3600"},
           Case{R"({"scaling": {"drainTargetSeconds": "1m"}})",
                "spec.scaling.drainTargetSeconds: \"1m\" is not an integer"},
       }) {
    auto policy = scalingPolicyFromSpec(json::parse(c.spec));
    ASSERT_FALSE(policy.isOk()) << c.spec;
    EXPECT_EQ(policy.status().message(), c.message) << c.spec;
  }
}

}  // namespace
}  // namespace sluice::api::v1alpha1
