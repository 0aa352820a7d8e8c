// FunctionController on the KubePlatform, and WarmPoolController, on the in-memory fake client with
// caches the test fills by hand, so the cache can lag behind the "server" on
// purpose: the expectations must keep a lagging cache from creating extras.
#include "controllers/function/function_controller.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <sstream>

#include "api/function.h"
#include "api/pods.h"
#include "controllers/warmpool/warm_pool_controller.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "platform/kube/kube_platform.h"
#include "platform/kube/pod_template.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;
namespace res = kube::resources;

class RecordingReplicaControl final : public platform::ReplicaControl {
 public:
  Status drain(const json& pod) override {
    drained.push_back(pod["metadata"]["name"]);
    return Status::ok();
  }
  Status specialize(const json& pod, const std::string& configuration) override {
    specialized.push_back(pod["metadata"]["name"]);
    configurations.push_back(json::parse(configuration));
    if (whileSpecializing) whileSpecializing();
    return specializeResult;
  }
  Status invoke(const json& pod, const std::string&, const std::string&, const std::string&) override {
    invoked.push_back(pod["metadata"]["name"]);
    return Status::ok();
  }
  std::vector<std::string> drained;
  std::vector<std::string> specialized;
  std::vector<std::string> invoked;
  std::vector<json> configurations;
  Status specializeResult = Status::ok();
  std::function<void()> whileSpecializing;  // e.g. moves the clock, as a slow /specialize would
};

json readyPod(json pod, const std::string& ip) {
  pod["spec"]["nodeName"] = "node-0";
  pod["status"] = {
      {"phase", "Running"}, {"podIP", ip}, {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  return pod;
}

class FunctionControllerTest : public ::testing::Test {
 protected:
  FunctionControllerTest()
      : client(clock),
        expectations(clock),
        events(client, "sluice-operator", clock),
        tokens(client, {}, clock),
        platform({"sluice/runtime-python:test", 0, {}, "sluice-operator", &clock}, client, {functions, pods},
                 expectations, events, tokens, &replicas),
        controller(client, {functions, triggers}, platform, events, clock),
        warmPools({"sluice/runtime-python:test"}, client, functions, triggers, pods, expectations, tokens, clock) {}

  // Creates the Function on the "server" and mirrors it into the cache.
  json addFunction(json spec, const json& status = json::object()) {
    json fn = {{"apiVersion", "sluice.io/v1alpha1"},
               {"kind", "Function"},
               {"metadata", {{"name", "echo"}, {"namespace", "ns"}}},
               {"spec", std::move(spec)}};
    json created = *client.create(spec::kFunctions, "ns", fn);
    if (!status.empty()) {
      created["status"] = status;
      created = *client.updateStatus(spec::kFunctions, created);
    }
    functions.upsert(std::make_shared<const json>(created));
    return created;
  }
  void setDesired(int desired) {
    json fn = *client.object(spec::kFunctions, "ns", "echo");
    fn["status"]["desiredReplicas"] = desired;
    functions.upsert(std::make_shared<const json>(*client.updateStatus(spec::kFunctions, fn)));
  }
  // Copies the server's pods into the cache and reports what the informer would have observed;
  // with `limit`, only that many of the pods the cache lacks arrive (a watch part-way through a burst).
  void syncPods(const std::string& owner = "ns/echo", int limit = -1) {
    std::set<std::string> seen;
    for (json pod : client.objects(res::kPods, "ns")) {
      std::string key = kube::objectKey(pod);
      seen.insert(key);
      const bool fresh = !pods.get(key);
      if (fresh && limit == 0) continue;
      // As the informer does: into the cache first, then the handlers lower the expectations.
      pods.upsert(std::make_shared<const json>(readyPod(pod, "127.1.0." + std::to_string(seen.size()))));
      if (!fresh) continue;
      --limit;
      if (pod["metadata"]["labels"].value(api::kRoleLabel, "") == "warm") {
        expectations.creationObserved(WarmPoolController::expectationsKey("ns"));
      } else {
        expectations.creationObserved(owner);
      }
    }
    for (const std::string& key : pods.keys()) {
      if (!seen.count(key) && limit < 0) {
        auto gone = pods.erase(key);
        bool warm = (*gone)["metadata"]["labels"].value(api::kRoleLabel, "") == "warm";
        expectations.deletionObserved(warm ? WarmPoolController::expectationsKey("ns") : owner);
      }
    }
  }
  std::set<std::string> replicaNames() {
    std::set<std::string> names;
    for (const json& pod : client.objects(res::kPods, "ns")) {
      if (pod["metadata"]["labels"].value(api::kFunctionLabel, "") == "echo") names.insert(pod["metadata"]["name"]);
    }
    return names;
  }
  // A pod named like a replica of the Function but controlled by another owner.
  json podOfAnotherOwner(const std::string& name, const std::string& ownerUid) {
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "ns"},
                  {"labels", {{api::kFunctionLabel, "echo"}, {api::kRoleLabel, "replica"}}},
                  {"ownerReferences", json::array({{{"apiVersion", "sluice.io/v1alpha1"},
                                                    {"kind", "Function"},
                                                    {"name", "echo"},
                                                    {"uid", ownerUid},
                                                    {"controller", true}}})}}},
                {"spec", {{"containers", json::array({{{"name", "runtime"}, {"image", "x"}}})}}}};
    return client.put(res::kPods, pod);
  }
  int liveReplicas() {
    int n = 0;
    for (const json& pod : client.objects(res::kPods, "ns")) {
      n += pod["metadata"]["labels"].value(api::kFunctionLabel, "") == "echo" ? 1 : 0;
    }
    return n;
  }

  // Rotates the namespace's control token as the sluice.io/rotate annotation does.
  void rotateTokens() {
    json secret = *client.object(res::kSecrets, "ns", platform::kControlTokenSecret);
    secret["metadata"]["annotations"][platform::kRotateAnnotation] = "";
    ASSERT_TRUE(client.update(res::kSecrets, secret).isOk());
    ASSERT_TRUE(tokens.reconcile("ns").isOk());
  }
  std::string tokenIdOf(const json& pod) {
    return pod["metadata"]["annotations"].value(platform::kPodTokenIdAnnotation, "");
  }

  static json inlineCode() { return {{"code", {{"inline", "def main_handler(event, context):\n    return event\n"}}}}; }

  testing::FakeClock clock;
  testing::FakeResourceClient client;
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  kube::ObjectCache pods;
  reconcile::Expectations expectations;
  reconcile::EventRecorder events;
  platform::ControlTokens tokens;
  RecordingReplicaControl replicas;
  platform::KubePlatform platform;
  FunctionController controller;
  WarmPoolController warmPools;
};

TEST_F(FunctionControllerTest, ALaggingCacheNeverCreatesExtraPods) {
  addFunction(inlineCode(), {{"desiredReplicas", 3}});
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(client.callCount("create", "pods"), 3);
  // The cache has not seen the pods yet: more reconciles must not create more.
  for (int i = 0; i < 5; ++i) controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 3);
  EXPECT_EQ(liveReplicas(), 3);
  syncPods();
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 3);
  json status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  EXPECT_EQ(status["replicas"], 3);
  EXPECT_EQ(status["readyReplicas"], 3);
  EXPECT_EQ(status["selector"], "sluice.io/function=echo");
  EXPECT_EQ(status["desiredReplicas"], 3) << "the autoscaler's field is left alone";
}

// kubectl apply of a Function and its Trigger creates them one after the other: the first pod
// waits for the Trigger (setTriggerGrace) instead of starting without it and being replaced.
TEST_F(FunctionControllerTest, ANewFunctionsFirstPodWaitsForTheTriggerAppliedWithIt) {
  controller.setTriggerGrace(std::chrono::seconds(2));
  addFunction(inlineCode(), {{"desiredReplicas", 1}});
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(client.callCount("create", "pods"), 0);
  EXPECT_GT(result.requeueAfterDelay, Clock::Duration::zero());
  EXPECT_LE(result.requeueAfterDelay, std::chrono::seconds(2));
  clock.advance(std::chrono::milliseconds(300));
  json trigger = {{"apiVersion", "sluice.io/v1alpha1"},
                  {"kind", "Trigger"},
                  {"metadata", {{"name", "files"}, {"namespace", "ns"}}},
                  {"spec", {{"functionRef", {{"name", "echo"}}}, {"objectStore", {{"type", "dir"}, {"path", "/in"}}}}}};
  triggers.upsert(std::make_shared<const json>(*client.create(spec::kTriggers, "ns", trigger)));
  controller.reconcile("ns/echo");  // the Trigger's event
  EXPECT_EQ(client.callCount("create", "pods"), 1);
  syncPods();
  clock.advance(std::chrono::seconds(5));
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 1);
  EXPECT_EQ(client.callCount("delete", "pods"), 0) << "the first pod already had its Trigger";
}

TEST_F(FunctionControllerTest, ANewFunctionWithNoTriggerGetsItsPodOnceTheGraceIsOver) {
  controller.setTriggerGrace(std::chrono::seconds(2));
  addFunction(inlineCode(), {{"desiredReplicas", 1}});
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 0);
  clock.advance(std::chrono::seconds(2));
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(client.callCount("create", "pods"), 1);
}

TEST_F(FunctionControllerTest, ACreationObservedWhileTheReconcileRunsIsCountedNotCreatedAgain) {
  addFunction(inlineCode(), {{"desiredReplicas", 3}});
  controller.reconcile("ns/echo");
  ASSERT_EQ(client.callCount("create", "pods"), 3);
  syncPods("ns/echo", 2);  // the watch has delivered two of the three creations
  // An edit of the inline code rewrites the ConfigMap (a server call inside the reconcile) and leaves
  // the pod template alone; the last creation is observed during that call. Had the reconcile read
  // the cache before it checked the expectations, it would now find them met, act on the two pods it
  // read, and create a fourth.
  json fn = *client.object(spec::kFunctions, "ns", "echo");
  fn["spec"]["code"]["inline"] = "def main_handler(event, context):\n    return [event]\n";
  functions.upsert(std::make_shared<const json>(*client.update(spec::kFunctions, fn)));
  client.beforeNext("patch", "configmaps", [this] { syncPods(); });
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(client.callCount("patch", "configmaps"), 2) << "the ConfigMap write is where the creation landed";
  EXPECT_EQ(client.callCount("create", "pods"), 3);
  EXPECT_EQ(liveReplicas(), 3);
}

TEST_F(FunctionControllerTest, ReplicaPodsAreNamedByOrdinalLowestFreeFirst) {
  addFunction(inlineCode(), {{"desiredReplicas", 3}});
  controller.reconcile("ns/echo");
  EXPECT_EQ(replicaNames(), (std::set<std::string>{"echo-0", "echo-1", "echo-2"}));
  syncPods();
  ASSERT_TRUE(client.remove(res::kPods, "ns", "echo-1").isOk());  // evicted
  syncPods();
  controller.reconcile("ns/echo");
  EXPECT_EQ(replicaNames(), (std::set<std::string>{"echo-0", "echo-1", "echo-2"})) << "the freed name is reused";
}

TEST_F(FunctionControllerTest, ACreateOfAKilledOperatorLandingAfterTheListTakesItsNameSoNoSurplusPod) {
  addFunction(inlineCode(), {{"desiredReplicas", 3}});
  controller.reconcile("ns/echo");
  syncPods();
  setDesired(5);
  // The operator was killed while scaling to 5 with its create of echo-3 in flight; its successor
  // listed the pods before that create landed, so it lands now, while the successor creates.
  client.beforeNext("create", "pods", [&] {
    json late = *client.object(res::kPods, "ns", "echo-0");  // the same template, as the killed operator made it
    late["metadata"]["name"] = "echo-3";
    for (const char* field : {"uid", "resourceVersion", "creationTimestamp"}) late["metadata"].erase(field);
    client.put(res::kPods, late);
  });
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << "the pod that exists is the one wanted: " << result.status.toString();
  EXPECT_EQ(replicaNames(), (std::set<std::string>{"echo-0", "echo-1", "echo-2", "echo-3", "echo-4"}));
  syncPods();
  controller.reconcile("ns/echo");
  EXPECT_EQ(liveReplicas(), 5);
  EXPECT_EQ(client.callCount("delete", "pods"), 0) << "no surplus pod to remove";
}

TEST_F(FunctionControllerTest, ANameTakenByAPodOfAnotherOwnerIsSkipped) {
  addFunction(inlineCode(), {{"desiredReplicas", 2}});
  podOfAnotherOwner("echo-0", "uid-of-an-older-function-echo");  // not in the cache: not ours, not labelled
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.status.isOk()) << result.status.toString();
  std::set<std::string> ours;
  for (const json& pod : client.objects(res::kPods, "ns")) {
    if (pod["metadata"]["ownerReferences"][0]["uid"] != "uid-of-an-older-function-echo")
      ours.insert(pod["metadata"]["name"]);
  }
  EXPECT_EQ(ours, (std::set<std::string>{"echo-1", "echo-2"}));
}

TEST_F(FunctionControllerTest, ScaleDownDrainsThenDeletesAndWaitsForTheCache) {
  addFunction(inlineCode(), {{"desiredReplicas", 4}});
  controller.reconcile("ns/echo");
  syncPods();
  setDesired(1);
  controller.reconcile("ns/echo");
  EXPECT_EQ(liveReplicas(), 1);
  EXPECT_EQ(replicas.drained.size(), 3u) << "each removed replica is asked to drain first";
  controller.reconcile("ns/echo");  // deletions not yet observed by the cache
  EXPECT_EQ(client.callCount("delete", "pods"), 3);
  EXPECT_EQ(client.callCount("create", "pods"), 4);
  syncPods();
  setDesired(0);
  controller.reconcile("ns/echo");
  EXPECT_EQ(liveReplicas(), 0);
}

TEST_F(FunctionControllerTest, AnInvalidSpecIsReportedAndNotRetried) {
  addFunction({{"runtime", "python3.11"}}, {{"desiredReplicas", 1}});
  auto result = controller.reconcile("ns/echo");
  EXPECT_TRUE(result.terminal);
  EXPECT_EQ(client.callCount("create", "pods"), 0);
  json status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  bool found = false;
  for (const json& c : status["conditions"]) {
    if (c["type"] == "Degraded") {
      found = true;
      EXPECT_EQ(c["status"], "True");
      EXPECT_EQ(c["reason"], "InvalidSpec");
      EXPECT_EQ(c["message"], "spec.code: runtime python3.11 needs code (inline, configMapRef or image)");
    }
  }
  EXPECT_TRUE(found) << status.dump();
}

// spec.protocol http: the handler's sidecar (an init container) in a crash
// loop is the Function's Ready reason too, the container named.
TEST_F(FunctionControllerTest, ACrashLoopingHandlerSidecarIsNamedInTheReadyReason) {
  addFunction(inlineCode(), {{"desiredReplicas", 1}});
  controller.reconcile("ns/echo");
  syncPods();
  json pod = *pods.get("ns/echo-0");
  pod["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "False"}}});
  pod["status"]["initContainerStatuses"] =
      json::array({{{"name", "handler"},
                    {"ready", false},
                    {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 20s"}}}}},
                    {"lastState", {{"terminated", {{"reason", "Error"}, {"exitCode", 1}}}}}}});
  pods.upsert(std::make_shared<const json>(pod));
  controller.reconcile("ns/echo");
  json status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  std::map<std::string, json> conditions;
  for (const json& c : status["conditions"]) conditions[c["type"]] = c;
  EXPECT_EQ(conditions["Ready"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(conditions["Ready"]["message"],
            "0/1 replicas ready; pod echo-0: container handler: back-off 20s; last exit: Error, exit code 1");
}

// status.imageDigest: the image a ready replica runs the Function's code from, as its kubelet reports
// it: a code image's (the fetch-code init container, not the runtime beside it); kept while no
// replica is ready; the runtime's when the code comes inline.
TEST_F(FunctionControllerTest, TheImageIdOfTheCodeAReadyReplicaRunsIsTheFunctionsImageDigest) {
  const std::string codeImage = "sha256:" + std::string(64, 'c');
  const std::string runtimeImage = "sha256:" + std::string(64, 'r');
  addFunction({{"code", {{"image", "sluice.local/code/echo:cccccccccccc"}}}}, {{"desiredReplicas", 1}});
  controller.reconcile("ns/echo");
  syncPods();
  json pod = *pods.get("ns/echo-0");
  pod["status"]["initContainerStatuses"] = json::array({{{"name", "fetch-code"}, {"imageID", codeImage}}});
  pod["status"]["containerStatuses"] = json::array({{{"name", "runtime"}, {"imageID", runtimeImage}}});
  json starting = pod;
  starting["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "False"}}});
  pods.upsert(std::make_shared<const json>(starting));
  controller.reconcile("ns/echo");
  EXPECT_FALSE(client.object(spec::kFunctions, "ns", "echo")->at("status").contains("imageDigest"))
      << "no replica is ready yet";
  pods.upsert(std::make_shared<const json>(pod));
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.object(spec::kFunctions, "ns", "echo")->at("status").value("imageDigest", ""), codeImage);
  functions.upsert(std::make_shared<const json>(*client.object(spec::kFunctions, "ns", "echo")));
  pods.upsert(std::make_shared<const json>(starting));
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.object(spec::kFunctions, "ns", "echo")->at("status").value("imageDigest", ""), codeImage)
      << "kept while no replica is ready";

  json fn = *client.object(spec::kFunctions, "ns", "echo");
  fn["spec"] = inlineCode();
  functions.upsert(std::make_shared<const json>(*client.update(spec::kFunctions, fn)));
  pod.erase("status");
  pod = readyPod(pod, "127.1.0.1");
  pod["status"]["containerStatuses"] = json::array({{{"name", "runtime"}, {"imageID", runtimeImage}}});
  pods.upsert(std::make_shared<const json>(pod));
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.object(spec::kFunctions, "ns", "echo")->at("status").value("imageDigest", ""), runtimeImage);
}

// A replica the kubelet cannot keep running (here a crash loop whose last exit left the runtime's
// termination message) reaches the Function: Ready=False with the kubelet's reason and the message,
// Degraded with the same, and one Warning Event however often it is reconciled.
TEST_F(FunctionControllerTest, ACrashLoopingReplicaIsTheFunctionsReadyReasonWithItsTerminationMessage) {
  addFunction(inlineCode(), {{"desiredReplicas", 1}});
  controller.reconcile("ns/echo");
  syncPods();
  json pod = *pods.get("ns/echo-0");
  pod["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "False"}}});
  pod["status"]["containerStatuses"] = json::array(
      {{{"name", "runtime"},
        {"ready", false},
        {"restartCount", 3},
        {"state",
         {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s restarting failed container"}}}}},
        {"lastState",
         {{"terminated",
           {{"reason", "Error"},
            {"exitCode", 1},
            {"message",
             "INTERNAL: loading index.main_handler: SyntaxError: invalid syntax (index.py, line 2)\n"}}}}}}});
  pods.upsert(std::make_shared<const json>(pod));
  const std::string expected =
      "pod echo-0: back-off 40s restarting failed container; last exit: Error, exit code 1: INTERNAL: loading "
      "index.main_handler: SyntaxError: invalid syntax (index.py, line 2)";
  for (int pass = 0; pass < 2; ++pass) {
    controller.reconcile("ns/echo");
    functions.upsert(std::make_shared<const json>(*client.object(spec::kFunctions, "ns", "echo")));
  }
  json status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  std::map<std::string, json> conditions;
  for (const json& c : status["conditions"]) conditions[c["type"]] = c;
  EXPECT_EQ(conditions["Ready"]["status"], "False");
  EXPECT_EQ(conditions["Ready"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(conditions["Ready"]["message"], "0/1 replicas ready; " + expected);
  EXPECT_EQ(conditions["Degraded"]["status"], "True");
  EXPECT_EQ(conditions["Degraded"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(conditions["Degraded"]["message"], expected);
  int warnings = 0;
  for (const json& e : client.objects(res::kEvents, "ns")) {
    if (e.value("reason", "") != "CrashLoopBackOff") continue;
    ++warnings;
    EXPECT_EQ(e["type"], "Warning");
    EXPECT_EQ(e["message"], expected);
    EXPECT_EQ(e.value("count", 1), 1) << "recorded again on the second pass";
  }
  EXPECT_EQ(warnings, 1);
}

// An OOM kill behind the crash loop is named as such; a pod waiting on a missing Secret key too.
TEST_F(FunctionControllerTest, OomKillsAndMissingSecretsAreNamed) {
  addFunction(inlineCode(), {{"desiredReplicas", 2}});
  controller.reconcile("ns/echo");
  syncPods();
  json oom = *pods.get("ns/echo-1");
  oom["status"]["containerStatuses"] =
      json::array({{{"name", "runtime"},
                    {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
                    {"lastState", {{"terminated", {{"reason", "OOMKilled"}, {"exitCode", 137}}}}}}});
  pods.upsert(std::make_shared<const json>(oom));
  controller.reconcile("ns/echo");
  json status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  std::map<std::string, json> conditions;
  for (const json& c : status["conditions"]) conditions[c["type"]] = c;
  EXPECT_EQ(conditions["Degraded"]["reason"], "OOMKilled");
  EXPECT_EQ(conditions["Degraded"]["message"], "pod echo-1: last exit: OOMKilled, exit code 137");

  json secretless = *pods.get("ns/echo-0");
  secretless["status"]["containerStatuses"] = json::array(
      {{{"name", "runtime"},
        {"state",
         {{"waiting",
           {{"reason", "CreateContainerConfigError"}, {"message", "couldn't find key password in Secret ns/db"}}}}}}});
  pods.upsert(std::make_shared<const json>(secretless));
  controller.reconcile("ns/echo");
  status = client.object(spec::kFunctions, "ns", "echo")->at("status");
  for (const json& c : status["conditions"]) conditions[c["type"]] = c;
  EXPECT_EQ(conditions["Degraded"]["reason"], "CreateContainerConfigError") << "the first pod by name is named";
  EXPECT_EQ(conditions["Degraded"]["message"], "pod echo-0: couldn't find key password in Secret ns/db");
}

// An output's Secret that is missing, then lacks its key, is the Function's Ready reason naming the
// field, even at zero replicas where no pod would show it; one Warning Event per onset; looked at
// again soon, and Ready once the key is there.
TEST_F(FunctionControllerTest, AnOutputsMissingSecretOrKeyIsNamedOnTheFunctionEvenAtZero) {
  json spec = inlineCode();
  spec["outputs"] = json::array(
      {{{"name", "hook"}, {"http", {{"url", "http://127.0.0.1:1/x"}, {"bearerTokenSecretRef", {{"name", "tok"}}}}}}});
  addFunction(spec, {{"desiredReplicas", 0}});
  auto conditions = [this] {
    std::map<std::string, json> out;
    const json fn = *client.object(spec::kFunctions, "ns", "echo");
    for (const json& c : fn.at("/status/conditions"_json_pointer)) out[c["type"]] = c;
    functions.upsert(std::make_shared<const json>(fn));
    return out;
  };
  auto result = controller.reconcile("ns/echo");
  EXPECT_FALSE(result.terminal);
  EXPECT_EQ(result.requeueAfterDelay, std::chrono::seconds(30));
  auto ready = conditions()["Ready"];
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "SecretNotFound");
  EXPECT_EQ(ready["message"], "0/0 replicas ready; Secret not found in namespace ns: tok");

  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "tok"}, {"namespace", "ns"}}},
                 {"data", {{"other", "eA=="}}}};
  ASSERT_TRUE(client.create(res::kSecrets, "ns", secret).isOk());
  for (int pass = 0; pass < 2; ++pass) {
    controller.reconcile("ns/echo");
    functions.upsert(std::make_shared<const json>(*client.object(spec::kFunctions, "ns", "echo")));
  }
  const std::string missingKey = "spec.outputs[0].http.bearerTokenSecretRef: Secret ns/tok has no key token";
  auto now = conditions();
  EXPECT_EQ(now["Ready"]["reason"], "SecretKeyMissing");
  EXPECT_EQ(now["Degraded"]["status"], "True");
  EXPECT_EQ(now["Degraded"]["message"], missingKey);
  int warnings = 0;
  for (const json& e : client.objects(res::kEvents, "ns")) {
    if (e.value("reason", "") != "SecretKeyMissing") continue;
    ++warnings;
    EXPECT_EQ(e["message"], missingKey);
    EXPECT_EQ(e.value("count", 1), 1) << "recorded again on the second pass";
  }
  EXPECT_EQ(warnings, 1);

  secret = *client.object(res::kSecrets, "ns", "tok");
  secret["data"]["token"] = "dA==";
  ASSERT_TRUE(client.update(res::kSecrets, secret).isOk());
  result = controller.reconcile("ns/echo");
  EXPECT_NE(result.requeueAfterDelay, std::chrono::seconds(30));
  now = conditions();
  EXPECT_EQ(now["Ready"]["status"], "True");
  EXPECT_EQ(now["Ready"]["reason"], "ScaledToZero");
  EXPECT_EQ(now["Degraded"]["status"], "False");
}

TEST_F(FunctionControllerTest, TheControlTokenSecretIsCreatedOnceWithRandomHex) {
  addFunction(inlineCode(), {{"desiredReplicas", 1}});
  controller.reconcile("ns/echo");
  auto secret = client.object(res::kSecrets, "ns", platform::kControlTokenSecret);
  ASSERT_TRUE(secret.has_value());
  auto token = tokens.ensure("ns");
  ASSERT_TRUE(token.isOk());
  EXPECT_EQ(token->control.size(), 64u);
  EXPECT_EQ(token->previousControl, "");
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "secrets"), 1);
}

// The adoption trace (bench/cold_start joins it with the runtime's) is timed
// on the platform's clock: here only /specialize takes time, 40 ms of it.
TEST_F(FunctionControllerTest, TheAdoptionTraceIsTimedOnThePlatformsClock) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 1}}}};
  addFunction(spec);
  ASSERT_TRUE(warmPools.reconcile("ns").status.isOk());
  syncPods();
  replicas.whileSpecializing = [this] { clock.advance(std::chrono::milliseconds(40)); };
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  setDesired(1);
  controller.reconcile("ns/echo");
  spdlog::default_logger()->sinks().pop_back();
  ASSERT_EQ(replicas.specialized.size(), 1u);
  EXPECT_NE(log.str().find("adopted warm pod " + replicas.specialized[0]), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("pod chosen +0.0 ms, relabel PATCH +0.0 ms, /specialize answered +40.0 ms)"),
            std::string::npos)
      << log.str();
}

TEST_F(FunctionControllerTest, WarmPoolFillsThenScaleFromZeroAdoptsAWarmPodAndThePoolRefills) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 2}}}};
  addFunction(spec);
  EXPECT_TRUE(warmPools.reconcile("ns").status.isOk());
  warmPools.reconcile("ns");  // lagging cache: no extra warm pods
  EXPECT_EQ(client.callCount("create", "pods"), 2);
  syncPods();
  std::set<std::string> warm;
  for (const json& pod : client.objects(res::kPods, "ns")) warm.insert(pod["metadata"]["name"]);

  setDesired(1);
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 2) << "the replica is adopted, not created";
  ASSERT_EQ(replicas.specialized.size(), 1u);
  EXPECT_TRUE(warm.count(replicas.specialized[0]));
  const json& config = replicas.configurations[0];
  EXPECT_EQ(config["codeFiles"]["index.py"], inlineCode()["code"]["inline"]);
  EXPECT_FALSE(config.contains("codeDir"));
  json adopted = *client.object(res::kPods, "ns", replicas.specialized[0]);
  EXPECT_EQ(adopted["metadata"]["labels"][api::kFunctionLabel], "echo");
  EXPECT_FALSE(adopted["metadata"]["labels"].contains(api::kPoolLabel));
  EXPECT_EQ(adopted["metadata"]["ownerReferences"][0]["name"], "echo");

  // The informer sees the adoption (an owner change); the pool has one pod left and refills, but only
  // after the refill delay: the replacement's start would compete with the adopted replica's.
  syncPods();
  expectations.creationObserved("ns/echo");
  pods.upsert(std::make_shared<const json>(readyPod(adopted, "127.1.0.9")));
  auto deferred = warmPools.reconcile("ns");
  EXPECT_TRUE(deferred.status.isOk()) << deferred.status.toString();
  EXPECT_EQ(client.callCount("create", "pods"), 2) << "not refilled at once";
  EXPECT_EQ(deferred.requeueAfterDelay, std::chrono::milliseconds(500));
  clock.advance(std::chrono::milliseconds(200));
  EXPECT_EQ(warmPools.reconcile("ns").requeueAfterDelay, std::chrono::milliseconds(300)) << "the delay counts once";
  EXPECT_EQ(client.callCount("create", "pods"), 2);
  clock.advance(std::chrono::milliseconds(300));
  auto refilled = warmPools.reconcile("ns");
  EXPECT_TRUE(refilled.status.isOk()) << refilled.status.toString();
  EXPECT_EQ(refilled.requeueAfterDelay, std::chrono::seconds(30)) << "looked at again for stale credentials";
  EXPECT_EQ(client.callCount("create", "pods"), 3);
  EXPECT_EQ(liveReplicas(), 1);
}

TEST_F(FunctionControllerTest, OperatorDefaultWarmPoolAppliesOnlyWhereTheFunctionSetsNoSize) {
  WarmPoolController withDefault({"sluice/runtime-python:test", 3}, client, functions, triggers, pods, expectations,
                                 tokens, clock);
  addFunction(inlineCode());
  EXPECT_EQ(api::warmPoolSize(*functions.get("ns/echo"), 3), 3);
  withDefault.reconcile("ns");
  EXPECT_EQ(client.callCount("create", "pods"), 3) << "no spec.scaling.warmPool.size: the operator's default";

  json zero = *functions.get("ns/echo");
  zero["spec"]["scaling"] = {{"warmPool", {{"size", 0}}}};
  functions.upsert(std::make_shared<const json>(zero));
  EXPECT_EQ(api::warmPoolSize(*functions.get("ns/echo"), 3), 0) << "an explicit 0 wins over the default";
  syncPods();
  withDefault.reconcile("ns");
  EXPECT_EQ(client.callCount("delete", "pods"), 3) << "the pool shrinks to the Function's own size";
}

TEST_F(FunctionControllerTest, AFailedSpecializationFallsBackToAFreshPod) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 1}}}};
  addFunction(spec);
  warmPools.reconcile("ns");
  syncPods();
  std::string warmName = client.objects(res::kPods, "ns")[0]["metadata"]["name"];
  replicas.specializeResult = unavailable("connection refused");
  setDesired(1);
  controller.reconcile("ns/echo");
  EXPECT_FALSE(client.object(res::kPods, "ns", warmName).has_value()) << "the unusable adopted pod is deleted";
  EXPECT_EQ(liveReplicas(), 1);
  EXPECT_EQ(client.callCount("create", "pods"), 2);  // the warm pod and the fresh replica
}

TEST_F(FunctionControllerTest, FunctionsWithEnvSecretsAndACodeConfigMapAreAdoptedFromAPoolOfTheirShape) {
  json spec = {{"runtime", "python3.11"},
               {"handler", "index.main_handler"},
               {"code", {{"configMapRef", {{"name", "handlers"}}}}},
               {"env", json::array({{{"name", "MODE"}, {"value", "x"}}})},
               {"outputs", json::array({{{"name", "lake"},
                                         {"s3",
                                          {{"endpoint", "http://s3:9000"},
                                           {"bucket", "lake"},
                                           {"credentialsSecretRef", {{"name", "s3-creds"}}}}}}})},
               {"scaling", {{"warmPool", {{"size", 1}}}}}};
  addFunction(spec);
  warmPools.reconcile("ns");
  syncPods();
  ASSERT_EQ(client.objects(res::kPods, "ns").size(), 1u);
  const json warm = client.objects(res::kPods, "ns")[0];
  json env = warm["spec"]["containers"][0]["env"];
  auto hasEnv = [&env](const std::string& name) {
    for (const json& e : env) {
      if (e["name"] == name) return true;
    }
    return false;
  };
  EXPECT_TRUE(hasEnv("MODE")) << "the warm pod starts with the Function's env";
  EXPECT_TRUE(hasEnv("SLUICE_SECRET_OUTPUT_LAKE_ACCESSKEY")) << "and its Secrets' references";
  setDesired(1);
  controller.reconcile("ns/echo");
  ASSERT_EQ(replicas.specialized.size(), 1u) << "adopted, not created";
  EXPECT_EQ(replicas.specialized[0], warm["metadata"]["name"]);
  EXPECT_EQ(client.callCount("create", "pods"), 1);
  EXPECT_EQ(replicas.configurations[0]["codeDir"], "/code") << "the code ConfigMap is mounted in the warm pod";
  EXPECT_FALSE(replicas.configurations[0].contains("codeFiles"));
}

TEST_F(FunctionControllerTest, AWarmPodOfAnotherShapeIsNotAdopted) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 1}}}};
  addFunction(spec);
  warmPools.reconcile("ns");
  syncPods();
  // The Function changes its env after the pool filled: the pod in the pool no longer fits.
  json fn = *client.object(spec::kFunctions, "ns", "echo");
  fn["spec"]["env"] = json::array({{{"name", "MODE"}, {"value", "x"}}});
  functions.upsert(std::make_shared<const json>(*client.update(spec::kFunctions, fn)));
  setDesired(1);
  controller.reconcile("ns/echo");
  EXPECT_TRUE(replicas.specialized.empty());
  EXPECT_EQ(liveReplicas(), 1);
}

TEST_F(FunctionControllerTest, SurplusWarmPodsGoNotReadyFirst) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 3}}}};
  addFunction(spec);
  warmPools.reconcile("ns");
  syncPods();
  // One warm pod is not ready; shrinking the pool to 2 removes it.
  json notReady = client.objects(res::kPods, "ns")[1];
  pods.upsert(std::make_shared<const json>(notReady));
  json fn = *client.object(spec::kFunctions, "ns", "echo");
  fn["spec"]["scaling"]["warmPool"]["size"] = 2;
  functions.upsert(std::make_shared<const json>(*client.update(spec::kFunctions, fn)));
  warmPools.reconcile("ns");
  EXPECT_FALSE(client.object(res::kPods, "ns", notReady["metadata"]["name"]).has_value());
  EXPECT_EQ(client.objects(res::kPods, "ns").size(), 2u);
}

TEST_F(FunctionControllerTest, ReplicasWhoseControlTokenRotatedOutAreReplacedOneAtATimeNeverBelowDesired) {
  addFunction(inlineCode(), {{"desiredReplicas", 2}});
  controller.reconcile("ns/echo");
  syncPods();
  std::set<std::string> first;  // by uid: a replacement may take a freed name
  for (const json& pod : client.objects(res::kPods, "ns")) first.insert(pod["metadata"]["uid"]);
  const std::string firstId = tokenId(tokens.ensure("ns")->control);
  for (const json& pod : client.objects(res::kPods, "ns")) EXPECT_EQ(tokenIdOf(pod), firstId);

  rotateTokens();
  controller.reconcile("ns/echo");
  EXPECT_EQ(client.callCount("create", "pods"), 2) << "the previous token still reaches them: kept";

  rotateTokens();
  const std::string thirdId = tokenId(tokens.ensure("ns")->control);
  int fewest = liveReplicas();
  for (int round = 0; round < 8; ++round) {
    controller.reconcile("ns/echo");
    syncPods();
    fewest = std::min(fewest, liveReplicas());
  }
  EXPECT_EQ(liveReplicas(), 2);
  EXPECT_EQ(fewest, 2) << "surge first, never fewer than desired";
  EXPECT_EQ(client.callCount("create", "pods"), 4) << "each stale replica replaced once";
  for (const json& pod : client.objects(res::kPods, "ns")) {
    EXPECT_FALSE(first.count(pod["metadata"]["uid"])) << pod["metadata"]["name"];
    EXPECT_EQ(tokenIdOf(pod), thirdId);
  }
  EXPECT_EQ(replicas.drained.size(), 2u) << "the stale ones were drained, with the token they hold";
}

TEST_F(FunctionControllerTest, WarmPodsWhoseControlTokenRotatedOutAreSwappedForFreshOnes) {
  json spec = inlineCode();
  spec["scaling"] = {{"warmPool", {{"size", 2}}}};
  addFunction(spec);
  warmPools.reconcile("ns");
  syncPods();
  std::set<std::string> before;
  for (const json& pod : client.objects(res::kPods, "ns")) before.insert(pod["metadata"]["name"]);
  ASSERT_EQ(before.size(), 2u);
  rotateTokens();
  rotateTokens();
  warmPools.reconcile("ns");
  EXPECT_TRUE(client.objects(res::kPods, "ns").empty()) << "both stale warm pods deleted";
  syncPods();
  clock.advance(std::chrono::milliseconds(500));  // the refill delay
  warmPools.reconcile("ns");
  const std::string currentId = tokenId(tokens.ensure("ns")->control);
  auto now = client.objects(res::kPods, "ns");
  ASSERT_EQ(now.size(), 2u);
  for (const json& pod : now) {
    EXPECT_FALSE(before.count(pod["metadata"]["name"]));
    EXPECT_EQ(tokenIdOf(pod), currentId);
  }
  // A stale warm pod is not adopted either: scaling up from zero now adopts a fresh one.
  syncPods();
  setDesired(1);
  controller.reconcile("ns/echo");
  ASSERT_EQ(replicas.specialized.size(), 1u);
  EXPECT_FALSE(before.count(replicas.specialized[0]));
}

}  // namespace
}  // namespace sluice::controllers
