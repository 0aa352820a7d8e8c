// apply, describe and delete through the CLI against the in-memory apiserver:
// what each prints (text and the --output json golden), the namespace rules
// (the manifest's, else -n, else the context's), the Triggers that go with a
// deleted Function, and exit 1 with the object named when it is missing or
// the cluster cannot be reached.
#include "cli/cluster.h"

#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli_harness.h"
#include "spec/resources.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::Harness;
using testing::TempDir;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(h.run({"init", (dir.path / "hello").string()}), kExitOk) << h.err.str(); }
  std::string fnDir() const { return (dir.path / "hello").string(); }

  Harness h;
  TempDir dir;
};

TEST_F(ClusterTest, ApplyCreatesInTheContextsNamespaceThenReportsUnchanged) {
  EXPECT_EQ(h.run({"apply", fnDir()}), kExitOk) << h.err.str();
  testing::expectGolden("apply.txt", h.out.str());
  auto fn = h.kube->object(spec::kFunctions, "team-a", "hello");
  ASSERT_TRUE(fn.has_value());
  EXPECT_EQ((*fn)["spec"]["code"]["inline"], testing::readText(dir.path / "hello/handler.py"));
  EXPECT_EQ(h.run({"apply", fnDir(), "-n", "team-b", "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("apply.json", h.out.str());
}

TEST_F(ClusterTest, ApplyRefusesInvalidManifestsWithoutConnecting) {
  testing::writeText(dir.path / "hello/trigger.yaml",
                     "apiVersion: sluice.io/v1alpha1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  functionRef: {}\n");
  EXPECT_EQ(h.run({"apply", fnDir()}), kExitUsage);
  EXPECT_TRUE(h.connects.empty());
  EXPECT_NE(h.err.str().find("sluice apply: the manifests have errors; nothing was sent"), std::string::npos);
}

TEST_F(ClusterTest, AnUnreachableClusterIsExitOne) {
  h.clusterDown = true;
  EXPECT_EQ(h.run({"apply", fnDir()}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice apply: GET https://127.0.0.1:1/api: connection refused\n");
  EXPECT_EQ(h.run({"describe", "hello"}), kExitError);
}

TEST_F(ClusterTest, DescribeShowsStatusTriggersAndRecentEvents) {
  ASSERT_EQ(h.run({"apply", fnDir()}), kExitOk);
  json fn = *h.kube->object(spec::kFunctions, "team-a", "hello");
  fn["status"] = {{"url", "http://gw.example/team-a/hello"},
                  {"replicas", 2},
                  {"readyReplicas", 1},
                  {"desiredReplicas", 2},
                  {"conditions",
                   {{{"type", "Ready"},
                     {"status", "False"},
                     {"reason", "ReplicasStarting"},
                     {"message", "1 of 2 replicas ready"},
                     {"lastTransitionTime", "2026-12-05T10:00:00Z"}}}}};
  ASSERT_TRUE(h.kube->updateStatus(spec::kFunctions, fn).isOk());
  for (int i = 0; i < 12; ++i) {
    char at[32];
    std::snprintf(at, sizeof at, "2026-12-05T10:%02d:00Z", 59 - i);  // written newest first
    h.kube->put(kube::resources::kEvents, {{"metadata", {{"name", "e" + std::to_string(i)}, {"namespace", "team-a"}}},
                                           {"involvedObject", {{"kind", "Function"}, {"name", "hello"}}},
                                           {"type", "Normal"},
                                           {"reason", "ScaledUp"},
                                           {"message", "to " + std::to_string(i)},
                                           {"count", 1},
                                           {"lastTimestamp", at}});
  }
  h.kube->put(kube::resources::kEvents, {{"metadata", {{"name", "other"}, {"namespace", "team-a"}}},
                                         {"involvedObject", {{"kind", "Function"}, {"name", "someone-else"}}},
                                         {"reason", "ScaledUp"},
                                         {"lastTimestamp", "2026-12-05T11:00:00Z"}});
  EXPECT_EQ(h.run({"describe", "hello", "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("describe.json", h.out.str());
  EXPECT_EQ(h.run({"describe", "hello", "-o", "yaml"}), kExitOk) << h.err.str();
  testing::expectGolden("describe.yaml", h.out.str());
  EXPECT_EQ(h.run({"describe", "hello"}), kExitOk);
  testing::expectGolden("describe.txt", h.out.str());
  EXPECT_NE(h.out.str().find("URL:        http://gw.example/team-a/hello\n"), std::string::npos) << h.out.str();
  EXPECT_NE(h.out.str().find("Replicas:   2 desired, 2 current, 1 ready, - warm\n"), std::string::npos);
  EXPECT_NE(h.out.str().find("  Ready=False  ReplicasStarting: 1 of 2 replicas ready\n"), std::string::npos);
  EXPECT_NE(h.out.str().find("  hello-http  type http  metric -  active false\n"), std::string::npos);
}

TEST_F(ClusterTest, DeleteRemovesTheFunctionAndItsTriggers) {
  ASSERT_EQ(h.run({"apply", fnDir()}), kExitOk);
  EXPECT_EQ(h.run({"delete", "hello"}), kExitOk) << h.err.str();
  testing::expectGolden("delete.txt", h.out.str());
  EXPECT_TRUE(h.kube->objects(spec::kFunctions).empty());
  EXPECT_TRUE(h.kube->objects(spec::kTriggers).empty());
}

TEST_F(ClusterTest, AMissingFunctionIsExitOneNamingIt) {
  EXPECT_EQ(h.run({"delete", "nope"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice delete: Function team-a/nope not found\n");
  EXPECT_EQ(h.run({"delete", "nope", "--ignore-not-found"}), kExitOk);
  EXPECT_EQ(h.run({"describe", "nope", "-n", "elsewhere"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice describe: Function elsewhere/nope not found\n");
  EXPECT_EQ(h.run({"delete", "-f", fnDir()}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice delete: Trigger team-a/hello-http not found\n");
}

TEST_F(ClusterTest, DeleteByManifestsRemovesWhatTheyName) {
  ASSERT_EQ(h.run({"apply", fnDir()}), kExitOk);
  EXPECT_EQ(h.run({"delete", "-f", fnDir(), "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("delete.json", h.out.str());
}

TEST(ClusterKindsTest, OnlySluiceKindsSecretsAndConfigMaps) {
  EXPECT_TRUE(resourceTypeOf("Secret").isOk());
  auto deployment = resourceTypeOf("Deployment");
  ASSERT_FALSE(deployment.isOk());
  EXPECT_EQ(deployment.status().message(),
            "kind: \"Deployment\": sluice takes Function, Trigger, Secret and ConfigMap");
}

}  // namespace
}  // namespace sluice::cli
