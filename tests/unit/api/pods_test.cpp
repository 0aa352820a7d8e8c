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

// A replica pod as the apiserver returns it, with what nothing reads beside what is read.
json fullReplicaPod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "orders-abc", "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
                 "creationTimestamp": "2026-12-07T10:00:00Z", "generateName": "orders-",
                 "labels": {"sluice.io/role": "replica", "sluice.io/function": "orders", "team": "a"},
                 "annotations": {"sluice.io/in-flight": "3", "sluice.io/control-token-id": "t1",
                                 "prometheus.io/scrape": "true"},
                 "ownerReferences": [{"apiVersion": "sluice.io/v1alpha1", "kind": "Function", "name": "orders",
                                      "uid": "f-1", "controller": true, "blockOwnerDeletion": true}]},
    "spec": {"nodeName": "node-1", "volumes": [{"name": "code", "emptyDir": {}}],
             "securityContext": {"runAsNonRoot": true},
             "containers": [{"name": "runtime", "image": "sluice/runtime-python:1",
                             "env": [{"name": "SLUICE_CONTROL_TLS_KEY", "value": "/tls/key.pem"},
                                     {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}],
                             "resources": {"limits": {"memory": "256Mi"}}, "ports": [{"containerPort": 8090}]}]},
    "status": {"phase": "Running", "podIP": "10.0.0.7", "hostIP": "127.0.0.1", "qosClass": "Burstable",
               "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-07T10:00:01Z"}],
               "containerStatuses": [{"name": "runtime", "imageID": "sha256:abc", "restartCount": 2, "ready": true,
                                      "state": {"running": {"startedAt": "2026-12-07T10:00:01Z"}},
                                      "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                                      "volumeMounts": [{"name": "code", "mountPath": "/code"}]}]}
  })");
}

TEST(PodsTest, ACachedPodKeepsWhatItsReadersReadAndNothingElse) {
  json trimmed = fullReplicaPod();
  trimPodForCache(trimmed);
  const json full = fullReplicaPod();
  EXPECT_EQ(podReady(trimmed), podReady(full));
  EXPECT_EQ(isWarmPod(trimmed), isWarmPod(full));
  EXPECT_TRUE(controlPortServesTls(trimmed));
  EXPECT_EQ(trimmed["kind"], "Pod");
  for (const char* kept : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels"}) {
    EXPECT_EQ(trimmed["metadata"][kept], full["metadata"][kept]) << kept;
  }
  EXPECT_EQ(trimmed["metadata"]["annotations"],
            (json{{"sluice.io/in-flight", "3"}, {"sluice.io/control-token-id", "t1"}}));
  EXPECT_EQ(trimmed["metadata"]["ownerReferences"][0], (json{{"apiVersion", "sluice.io/v1alpha1"},
                                                             {"kind", "Function"},
                                                             {"name", "orders"},
                                                             {"uid", "f-1"},
                                                             {"controller", true}}));
  EXPECT_EQ(
      trimmed["spec"],
      (json{{"nodeName", "node-1"},
            {"containers",
             {{{"name", "runtime"}, {"env", {{{"name", "SLUICE_CONTROL_TLS_KEY"}}, {{"name", "DB_PASSWORD"}}}}}}}}));
  EXPECT_EQ(trimmed["status"]["phase"], "Running");
  EXPECT_EQ(trimmed["status"]["podIP"], "10.0.0.7");
  EXPECT_FALSE(trimmed["status"].contains("hostIP"));
  EXPECT_EQ(trimmed["status"]["conditions"], (json{{{"type", "Ready"}, {"status", "True"}}}));
  const json& runtime = trimmed["status"]["containerStatuses"][0];
  EXPECT_EQ(runtime["imageID"], "sha256:abc");
  EXPECT_EQ(runtime["lastState"], full["status"]["containerStatuses"][0]["lastState"]);
  EXPECT_FALSE(runtime.contains("volumeMounts"));
  EXPECT_FALSE(runtime.contains("restartCount"));
}

TEST(PodsTest, TrimmingLeavesWhatIsNotAPodObjectAlone) {
  json notObject = json::array({1, 2});
  trimPodForCache(notObject);
  EXPECT_EQ(notObject, json::array({1, 2}));
  json bare = {{"metadata", {{"name", "p"}}}};
  trimPodForCache(bare);
  EXPECT_EQ(bare, (json{{"metadata", {{"name", "p"}}}}));
}

}  // namespace
}  // namespace sluice::api
