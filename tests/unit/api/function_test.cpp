// Rules derived from a Function: the replicas it asks for, its warm pool size.
#include "api/function.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

using nlohmann::json;

TEST(FunctionRulesTest, PinnedReplicasWinAndBoundsClamp) {
  EXPECT_EQ(desiredReplicas({{"spec", {{"replicas", 3}}}, {"status", {{"desiredReplicas", 9}}}}), 3);
  EXPECT_EQ(desiredReplicas({{"spec", {{"scaling", {{"minReplicas", 1}, {"maxReplicas", 4}}}}},
                             {"status", {{"desiredReplicas", 9}}}}),
            4);
  EXPECT_EQ(desiredReplicas({{"spec", {{"scaling", {{"minReplicas", 2}}}}}}), 2);
  EXPECT_EQ(desiredReplicas({{"spec", json::object()}}), 0);
}

TEST(FunctionRulesTest, WarmPoolSizeFallsBackToTheDefaultOnlyWhenUnset) {
  EXPECT_EQ(warmPoolSize({{"spec", json::object()}}, 3), 3);
  EXPECT_EQ(warmPoolSize({{"spec", {{"scaling", {{"warmPool", {{"size", 0}}}}}}}}, 3), 0);
  EXPECT_EQ(warmPoolSize({{"spec", {{"scaling", {{"warmPool", {{"size", 2}}}}}}}}, 0), 2);
}

}  // namespace
}  // namespace sluice::api
