// Which pods are warm, and when a pod is Ready.
#include "api/pods.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

using nlohmann::json;

json pod(const std::string& role, const std::string& ready) {
  return {{"metadata", {{"labels", {{kRoleLabel, role}}}}},
          {"status",
           {{"conditions", {{{"type", "PodScheduled"}, {"status", "True"}}, {{"type", "Ready"}, {"status", ready}}}}}}};
}

TEST(PodsTest, AWarmPodIsOneWithTheWarmRoleThatIsNotTerminating) {
  EXPECT_TRUE(isWarmPod(pod("warm", "True")));
  EXPECT_FALSE(isWarmPod(pod("replica", "True")));
  json leaving = pod("warm", "True");
  leaving["metadata"]["deletionTimestamp"] = "2026-12-05T00:00:00Z";
  EXPECT_FALSE(isWarmPod(leaving));
}

TEST(PodsTest, ReadyFollowsTheReadyCondition) {
  EXPECT_TRUE(podReady(pod("replica", "True")));
  EXPECT_FALSE(podReady(pod("replica", "False")));
  EXPECT_FALSE(podReady(json{{"metadata", json::object()}}));
}

}  // namespace
}  // namespace sluice::api
