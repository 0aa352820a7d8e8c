// The FunctionController against a fake Platform (our own interface): the
// reconcile does not know which platform runs the replicas. It hands over the
// desired count and the rendered configuration, writes status from what the
// platform reports, turns the platform's steps into Events, and tells a spec
// the platform refuses (InvalidSpec, terminal) from a failure worth a retry.
#include <gtest/gtest.h>

#include <set>

#include "controllers/function/function_controller.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;

class FakePlatform final : public platform::Platform {
 public:
  Result<platform::ApplyOutcome> apply(const platform::ReplicaSpec& spec) override {
    applied.push_back(spec);
    if (!answer.isOk()) return answer;
    platform::ApplyOutcome out = outcome;
    out.counts.desired = spec.desired;
    return out;
  }
  void forget(const std::string& key) override { forgotten.push_back(key); }
  platform::ReplicaCounts counts(const std::string&) const override { return outcome.counts; }
  Result<std::string> invoke(const std::string&, const std::string&, const std::string&, const std::string&) override {
    return unavailable("not used here");
  }
  std::vector<platform::ReplicaSpec> applied;
  std::vector<std::string> forgotten;
  platform::ApplyOutcome outcome;
  Status answer;
};

class FunctionControllerPlatformTest : public ::testing::Test {
 protected:
  FunctionControllerPlatformTest()
      : client(clock),
        events(client, "sluice-operator", clock),
        controller(client, {functions, triggers}, platform, events, clock) {}

  void addFunction(json spec, const json& status = json::object()) {
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
  }
  void addTrigger() {
    json t = {{"apiVersion", "sluice.io/v1alpha1"},
              {"kind", "Trigger"},
              {"metadata", {{"name", "files"}, {"namespace", "ns"}}},
              {"spec", {{"functionRef", {{"name", "echo"}}}, {"objectStore", {{"type", "dir"}, {"path", "/in"}}}}}};
    triggers.upsert(std::make_shared<const json>(*client.create(spec::kTriggers, "ns", t)));
  }
  json status() { return client.object(spec::kFunctions, "ns", "echo")->at("status"); }
  json conditionOf(const std::string& type) {
    const json conditions = status()["conditions"];  // a named copy outlives the loop
    for (const json& c : conditions) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }
  std::vector<std::string> eventMessages() {
    std::vector<std::string> out;
    const json list = *client.list(kube::resources::kEvents, "ns", {});
    for (const json& e : list["items"])
      out.push_back(e["reason"].get<std::string>() + ": " + e["message"].get<std::string>());
    return out;
  }
  static json builtin() {
    return {{"runtime", "builtin"},
            {"pipeline", json::array({{{"decompress", {{"format", "gzip"}}}}})},
            {"outputs", json::array({{{"dir", {{"path", "/out"}}}}})},
            {"scaling", {{"maxReplicas", 4}}}};
  }

  testing::FakeClock clock;
  testing::FakeResourceClient client;
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  reconcile::EventRecorder events;
  FakePlatform platform;
  FunctionController controller;
};

TEST_F(FunctionControllerPlatformTest, HandsTheDesiredCountAndRenderedConfigurationToThePlatform) {
  addFunction(builtin(), {{"desiredReplicas", 9}});
  addTrigger();
  platform.outcome.counts = {.ready = 2, .starting = 1, .warm = 1};
  auto result = controller.reconcile("ns/echo");
  ASSERT_TRUE(result.status.isOk()) << result.status.toString();
  ASSERT_EQ(platform.applied.size(), 1u);
  const platform::ReplicaSpec& spec = platform.applied[0];
  EXPECT_EQ(spec.key, "ns/echo");
  EXPECT_EQ(spec.desired, 4) << "status.desiredReplicas clamped to maxReplicas";
  EXPECT_EQ(spec.function["metadata"]["name"], "echo");
  ASSERT_EQ(spec.rendered.config["triggers"].size(), 1u);
  EXPECT_EQ(spec.rendered.config["triggers"][0]["name"], "files");

  json s = status();
  EXPECT_EQ(s["replicas"], 3);
  EXPECT_EQ(s["readyReplicas"], 2);
  EXPECT_EQ(s["warmReplicas"], 1);
  EXPECT_EQ(s["triggerCount"], 1);
  EXPECT_EQ(s["desiredReplicas"], 9) << "the autoscaler's field is left alone";
  EXPECT_EQ(conditionOf("Ready")["reason"], "ReplicasNotReady");
  EXPECT_EQ(conditionOf("Ready")["message"], "2/4 replicas ready");
  EXPECT_EQ(conditionOf("Active")["status"], "True");
  EXPECT_EQ(result.requeueAfterDelay, FunctionController::resyncAfter("ns/echo"));
}

TEST(FunctionControllerResync, TenMinutesSpreadOverAMinuteTheSameForAKeyEachTime) {
  std::set<Clock::Duration> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "ns/f" + std::to_string(i);
    const Clock::Duration after = FunctionController::resyncAfter(key);
    EXPECT_GE(after, std::chrono::minutes(10));
    EXPECT_LT(after, std::chrono::minutes(11));
    EXPECT_EQ(after, FunctionController::resyncAfter(key));
    seen.insert(after);
  }
  EXPECT_GT(seen.size(), 30u) << "100 Functions applied together come back spread out";
}

TEST_F(FunctionControllerPlatformTest, StepsBecomeEventsAndAFailureIsDegradedAndRetried) {
  addFunction(builtin(), {{"desiredReplicas", 3}});
  platform.outcome.created = 2;
  platform.outcome.adopted = 1;
  platform.outcome.failure = "create pod: quota exceeded";
  auto result = controller.reconcile("ns/echo");
  EXPECT_FALSE(result.status.isOk());
  EXPECT_FALSE(result.terminal);
  EXPECT_EQ(eventMessages(), (std::vector<std::string>{"AdoptedWarmPods: adopted 1 warm pod(s) (desired 3)",
                                                       "ScaledUp: created 2 replica pod(s) (desired 3)"}));
  EXPECT_EQ(conditionOf("Degraded")["reason"], "PodChangeFailed");
  EXPECT_EQ(conditionOf("Degraded")["message"], "create pod: quota exceeded");
}

TEST_F(FunctionControllerPlatformTest, ASettlingPlatformIsLookedAtAgainSoon) {
  addFunction(builtin(), {{"desiredReplicas", 1}});
  platform.outcome.settling = true;
  EXPECT_EQ(controller.reconcile("ns/echo").requeueAfterDelay, std::chrono::seconds(5));
}

TEST_F(FunctionControllerPlatformTest, ASpecThePlatformRefusesIsInvalidAndTerminalOtherErrorsAreRetried) {
  addFunction(builtin(), {{"desiredReplicas", 1}});
  platform.answer = invalidArgument("spec.code.image: --local runs inline code only (spec.code.inline)");
  auto refused = controller.reconcile("ns/echo");
  EXPECT_TRUE(refused.terminal);
  EXPECT_EQ(conditionOf("Ready")["reason"], "InvalidSpec");
  EXPECT_EQ(conditionOf("Degraded")["message"], "spec.code.image: --local runs inline code only (spec.code.inline)");

  platform.answer = unavailable("apiserver away");
  functions.upsert(std::make_shared<const json>(*client.object(spec::kFunctions, "ns", "echo")));
  auto retried = controller.reconcile("ns/echo");
  EXPECT_FALSE(retried.terminal);
  EXPECT_EQ(retried.status.message(), "apiserver away");
}

TEST_F(FunctionControllerPlatformTest, ARenderErrorNeverReachesThePlatform) {
  json spec = builtin();
  spec["outputs"] = json::array({{{"name", "nowhere"}}});
  addFunction(spec, {{"desiredReplicas", 1}});
  EXPECT_TRUE(controller.reconcile("ns/echo").terminal);
  EXPECT_TRUE(platform.applied.empty());
  EXPECT_EQ(conditionOf("Degraded")["reason"], "InvalidSpec");
}

TEST_F(FunctionControllerPlatformTest, AGoneFunctionIsForgotten) {
  EXPECT_TRUE(controller.reconcile("ns/gone").status.isOk());
  EXPECT_EQ(platform.forgotten, std::vector<std::string>{"ns/gone"});
}

}  // namespace
}  // namespace sluice::controllers

namespace sluice::controllers {
namespace {

// With the gateway's URL known, a Function with an http Trigger gets status.url (in the host form when
// the gateway routes by host); without one it loses it.
TEST(FunctionControllerUrlTest, StatusUrlFollowsTheHttpTrigger) {
  testing::FakeClock clock;
  testing::FakeResourceClient client(clock);
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  reconcile::EventRecorder events(client, "sluice-operator", clock);
  FakePlatform platform;
  FunctionController controller(client, {functions, triggers}, platform, events, clock, "http://gw.example:8080/");
  json fn = {{"apiVersion", "sluice.io/v1alpha1"},
             {"kind", "Function"},
             {"metadata", {{"name", "echo"}, {"namespace", "ns"}}},
             {"spec", {{"runtime", "python3.11"}, {"handler", "index.main_handler"}, {"code", {{"inline", "x = 1"}}}}}};
  functions.upsert(std::make_shared<const json>(*client.create(spec::kFunctions, "ns", fn)));
  json t = {{"apiVersion", "sluice.io/v1alpha1"},
            {"kind", "Trigger"},
            {"metadata", {{"name", "web"}, {"namespace", "ns"}}},
            {"spec", {{"functionRef", {{"name", "echo"}}}, {"http", {{"path", "/echo"}}}}}};
  triggers.upsert(std::make_shared<const json>(*client.create(spec::kTriggers, "ns", t)));
  ASSERT_TRUE(controller.reconcile("ns/echo").status.isOk());
  json current = *client.object(spec::kFunctions, "ns", "echo");
  EXPECT_EQ(current["status"]["url"], "http://gw.example:8080/ns/echo");

  functions.upsert(std::make_shared<const json>(current));
  FunctionController byHost(client, {functions, triggers}, platform, events, clock, "https://gw.example",
                            "fn.example.com");
  ASSERT_TRUE(byHost.reconcile("ns/echo").status.isOk());
  current = *client.object(spec::kFunctions, "ns", "echo");
  EXPECT_EQ(current["status"]["url"], "https://echo.ns.fn.example.com");

  functions.upsert(std::make_shared<const json>(current));
  triggers.erase("ns/web");
  ASSERT_TRUE(controller.reconcile("ns/echo").status.isOk());
  EXPECT_FALSE(client.object(spec::kFunctions, "ns", "echo")->at("status").contains("url"));
}

}  // namespace
}  // namespace sluice::controllers
