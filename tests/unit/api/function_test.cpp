// Rules derived from a Function: the replicas it asks for, its warm pool size, its gateway URL.
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

TEST(FunctionRulesTest, FunctionUrlIsThePathFormOrWithADomainTheHostForm) {
  EXPECT_EQ(functionUrl("http://gw:8080/", "", "ns", "f"), "http://gw:8080/ns/f");
  EXPECT_EQ(functionUrl("http://gw:8080", "", "ns", "f"), "http://gw:8080/ns/f");
  EXPECT_EQ(functionUrl("https://gw.example.com", "fn.example.com", "ns", "f"), "https://f.ns.fn.example.com");
  EXPECT_EQ(functionUrl("http://gw:8080", "localtest.me:8088", "ns", "f"), "http://f.ns.localtest.me:8088");
  EXPECT_EQ(functionUrl("gw", "example.com", "ns", "f"), "http://f.ns.example.com");
}

}  // namespace
}  // namespace sluice::api
