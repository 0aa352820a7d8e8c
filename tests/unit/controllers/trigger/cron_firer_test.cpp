// CronFirer, through the KubePlatform, on the fake client with a fake clock: a tick is delivered once per
// firing to a Ready replica, waits (without firing) while none is Ready, is
// retried while the replica is unavailable, is given up with MissedSchedule
// after the window, never fires for a minute that began before the Trigger
// existed, and a handler failure is not fired twice. With the autoscaler's
// CronTickScaler reading the Trigger the firer writes: the replica floor holds
// until the tick is settled, not for the whole minute.
#include "controllers/trigger/cron_firer.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "platform/kube/kube_platform.h"
#include "scalers/cron_scaler.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class ScriptedReplicaControl final : public platform::ReplicaControl {
 public:
  Status drain(const json&) override { return Status::ok(); }
  Status specialize(const json&, const std::string&) override { return Status::ok(); }
  Status invoke(const json& pod, const std::string& trigger, const std::string& eventType,
                const std::string& body) override {
    calls.push_back(pod["metadata"]["name"].get<std::string>() + " " + trigger + " " + eventType + " " + body);
    return answer;
  }
  std::vector<std::string> calls;
  Status answer = Status::ok();
};

// 2026-11-30T12:00:30Z: half a minute past a firing of "* * * * *".
std::chrono::system_clock::time_point wallStart() { return parseRfc3339("2026-11-30T12:00:30Z"); }

class CronFirerTest : public ::testing::Test {
 protected:
  CronFirerTest()
      : clock(testing::FakeClock::TimePoint{} + std::chrono::hours(1), wallStart()),
        client(clock),
        events(client, "sluice-operator", clock),
        expectations(clock),
        tokens(client),
        platform({"sluice/runtime-python:test"}, client, {functions, pods}, expectations, events, tokens, &replicas),
        firer(client, triggers, platform, events, clock) {}

  void addTrigger(json cron) {
    json t = {{"apiVersion", "sluice.io/v1alpha1"},
              {"kind", "Trigger"},
              {"metadata", {{"name", "nightly"}, {"namespace", "ns"}}},
              {"spec", {{"functionRef", {{"name", "report"}}}, {"cron", std::move(cron)}}}};
    triggers.upsert(std::make_shared<const json>(*client.create(spec::kTriggers, "ns", t)));
  }
  // The informer's view catches up with the server.
  void syncTrigger() {
    triggers.upsert(std::make_shared<const json>(*client.object(spec::kTriggers, "ns", "nightly")));
  }
  void addPod(const std::string& name, bool ready, const std::string& function = "report") {
    json pod = {{"metadata",
                 {{"name", name},
                  {"namespace", "ns"},
                  {"labels", {{"sluice.io/function", function}, {"sluice.io/role", "replica"}}}}},
                {"status",
                 {{"podIP", "127.0.0.5"},
                  {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
    pods.upsert(std::make_shared<const json>(pod));
  }
  std::string lastFireTime() {
    return client.object(spec::kTriggers, "ns", "nightly")->value("/status/lastFireTime"_json_pointer, std::string());
  }
  std::vector<std::string> eventReasons() {
    std::vector<std::string> reasons;
    const json list = *client.list(kube::resources::kEvents, "ns", {});  // a named copy outlives the loop
    for (const json& e : list["items"]) reasons.push_back(e["reason"]);
    return reasons;
  }

  testing::FakeClock clock;
  testing::FakeResourceClient client;
  reconcile::EventRecorder events;
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  kube::ObjectCache pods;
  ScriptedReplicaControl replicas;
  reconcile::Expectations expectations;
  platform::ControlTokens tokens;
  platform::KubePlatform platform;  // the pods' side: which replica is Ready
  CronFirer firer;
};

TEST_F(CronFirerTest, NoFiringForTheMinuteTheTriggerWasCreatedIn) {
  addTrigger({{"schedule", "* * * * *"}, {"payload", "tick"}});
  addPod("report-a", true);
  auto result = firer.reconcile("ns/nightly");
  EXPECT_TRUE(replicas.calls.empty()) << "12:00 began before the Trigger was created at 12:00:30";
  EXPECT_EQ(result.requeueAfterDelay, std::chrono::milliseconds(30050)) << "looks again just after 12:01";
  EXPECT_EQ(lastFireTime(), "");
}

TEST_F(CronFirerTest, EachFiringIsDeliveredOnceToAReadyReplica) {
  addTrigger({{"schedule", "* * * * *"}, {"payload", "tick"}});
  addPod("report-a", true);
  clock.advance(seconds(31));  // 12:01:01
  firer.reconcile("ns/nightly");
  ASSERT_EQ(replicas.calls, std::vector<std::string>{"report-a nightly cron.tick tick"});
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:01:00Z");
  EXPECT_EQ(eventReasons(), std::vector<std::string>{"Fired"});

  syncTrigger();
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 1u) << "12:01 was delivered already";

  clock.advance(seconds(60));  // 12:02:01
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 2u);
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:02:00Z");
}

TEST_F(CronFirerTest, WaitsForAReadyReplicaOfItsOwnFunction) {
  addTrigger({{"schedule", "*/5 * * * *"}, {"windowSeconds", 120}});
  addPod("other-a", true, "other");
  addPod("report-a", false);
  clock.advance(seconds(4 * 60 + 35));  // 12:05:05
  auto result = firer.reconcile("ns/nightly");
  EXPECT_TRUE(replicas.calls.empty());
  EXPECT_EQ(result.requeueAfterDelay, CronFirer::kRetry);
  EXPECT_EQ(lastFireTime(), "");

  clock.advance(seconds(90));  // 12:06:35, still inside the 120 s window
  addPod("report-a", true);
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls, std::vector<std::string>{"report-a nightly cron.tick "});
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:05:00Z");
}

TEST_F(CronFirerTest, UnavailableReplicaIsRetriedThenTheFiringIsMissedAfterTheWindow) {
  addTrigger({{"schedule", "* * * * *"}});
  addPod("report-a", true);
  replicas.answer = unavailable("POST http://127.0.0.5:8090/invoke: 503 the replica is draining");
  clock.advance(seconds(31));  // 12:01:01
  EXPECT_EQ(firer.reconcile("ns/nightly").requeueAfterDelay, CronFirer::kRetry);
  clock.advance(seconds(30));
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 2u);
  EXPECT_EQ(lastFireTime(), "");

  clock.advance(seconds(30));  // 12:02:01: 12:01 is a minute old, 12:02 is due
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 3u) << "the latest firing (12:02) is tried, not 12:01";
  EXPECT_EQ(lastFireTime(), "");
  clock.advance(seconds(60));  // 12:03:01: the latest firing is 12:03
  replicas.answer = Status::ok();
  firer.reconcile("ns/nightly");
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:03:00Z");
}

TEST_F(CronFirerTest, FiringOlderThanTheWindowIsRecordedAsMissed) {
  addTrigger({{"schedule", "0 * * * *"}});  // hourly
  addPod("report-a", false);
  clock.advance(seconds(59 * 60 + 40));  // 13:00:10
  firer.reconcile("ns/nightly");
  EXPECT_EQ(lastFireTime(), "");
  clock.advance(seconds(60));  // 13:01:10: 13:00 is 70 s old, the window is 60 s
  firer.reconcile("ns/nightly");
  EXPECT_TRUE(replicas.calls.empty());
  EXPECT_EQ(lastFireTime(), "2026-11-30T13:00:00Z") << "a missed firing is not retried forever";
  EXPECT_EQ(eventReasons(), std::vector<std::string>{"MissedSchedule"});
}

TEST_F(CronFirerTest, HandlerFailureIsNotFiredTwice) {
  addTrigger({{"schedule", "* * * * *"}});
  addPod("report-a", true);
  replicas.answer = Status(StatusCode::kInternal, "POST http://127.0.0.5:8090/invoke: 500 handler raised ValueError");
  clock.advance(seconds(31));
  firer.reconcile("ns/nightly");
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:01:00Z");
  EXPECT_EQ(eventReasons(), std::vector<std::string>{"FireFailed"});
  syncTrigger();
  clock.advance(seconds(5));
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 1u);
}

TEST_F(CronFirerTest, TimeZoneAndMacrosAreHonoured) {
  // @daily in Asia/Shanghai (UTC+8) fires at 16:00 UTC.
  addTrigger({{"schedule", "@daily"}, {"timezone", "Asia/Shanghai"}});
  addPod("report-a", true);
  clock.advance(seconds(3 * 3600 + 59 * 60 + 35));  // 16:00:05Z
  firer.reconcile("ns/nightly");
  EXPECT_EQ(lastFireTime(), "2026-11-30T16:00:00Z");
}

// The autoscaler's cron floor, reading this Trigger as the informer sees it.
class CronFloorTest : public CronFirerTest {
 protected:
  std::unique_ptr<scalers::CronTickScaler> floorScaler(const json& cron) {
    scalers::CronTickOptions options{cron.value("schedule", ""), "UTC", cron.value("replicas", 0),
                                     cron.value("windowSeconds", 0), nullptr};
    options.settledBefore = [lookup = cronSettledBeforeIn(triggers)] { return lookup("ns", "nightly"); };
    auto scaler = scalers::CronTickScaler::create(std::move(options), clock);
    EXPECT_TRUE(scaler.isOk()) << scaler.status().toString();
    return std::move(*scaler);
  }
  int floor(scalers::CronTickScaler& scaler) { return scaler.read()->minReplicas; }
};

TEST_F(CronFloorTest, FloorEndsOnceTheTickIsDeliveredNotAtTheEndOfTheMinute) {
  json cron = {{"schedule", "* * * * *"}};
  addTrigger(cron);
  auto scaler = floorScaler(cron);
  EXPECT_EQ(floor(*scaler), 0) << "12:00 began before the Trigger existed: no tick, no floor";

  addPod("report-a", false);   // the replica the floor wakes, still starting
  clock.advance(seconds(31));  // 12:01:01
  EXPECT_EQ(floor(*scaler), 1);
  EXPECT_TRUE(scaler->read()->active);
  firer.reconcile("ns/nightly");
  syncTrigger();
  EXPECT_EQ(lastFireTime(), "");
  clock.advance(seconds(10));  // 12:01:11
  EXPECT_EQ(floor(*scaler), 1) << "not delivered yet: the replica must stay";

  addPod("report-a", true);
  firer.reconcile("ns/nightly");
  EXPECT_EQ(replicas.calls.size(), 1u);
  EXPECT_EQ(floor(*scaler), 1) << "the informer has not seen lastFireTime yet";
  syncTrigger();
  EXPECT_EQ(floor(*scaler), 0) << "delivered at 12:01:11: the floor ends 49 s before the minute does";
  EXPECT_FALSE(scaler->read()->active);

  clock.advance(seconds(50));  // 12:02:01: the next firing opens a floor again
  EXPECT_EQ(floor(*scaler), 1);
}

TEST_F(CronFloorTest, TerminallyFailedTickEndsTheFloor) {
  json cron = {{"schedule", "* * * * *"}};
  addTrigger(cron);
  auto scaler = floorScaler(cron);
  addPod("report-a", true);
  replicas.answer = Status(StatusCode::kInternal, "POST http://127.0.0.5:8090/invoke: 500 handler raised ValueError");
  clock.advance(seconds(31));  // 12:01:01
  EXPECT_EQ(floor(*scaler), 1);
  firer.reconcile("ns/nightly");
  syncTrigger();
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:01:00Z");
  EXPECT_EQ(floor(*scaler), 0) << "the tick ran and failed: nothing is left to deliver";
}

TEST_F(CronFloorTest, UndeliveredTickHoldsTheFloorForItsWholeWindow) {
  json cron = {{"schedule", "0 * * * *"}};  // hourly
  addTrigger(cron);
  auto scaler = floorScaler(cron);
  addPod("report-a", false);
  clock.advance(seconds(59 * 60 + 40));  // 13:00:10
  firer.reconcile("ns/nightly");
  syncTrigger();
  EXPECT_EQ(lastFireTime(), "");
  clock.advance(seconds(49));  // 13:00:59
  EXPECT_EQ(floor(*scaler), 1) << "still retried: the replica must come up and stay";
  clock.advance(seconds(1));  // 13:01:00: past the 60 s window the firing is missed
  EXPECT_EQ(floor(*scaler), 0);
}

TEST_F(CronFloorTest, ExplicitWindowHoldsTheFloorAfterDelivery) {
  json cron = {{"schedule", "*/5 * * * *"}, {"replicas", 2}, {"windowSeconds", 120}};
  addTrigger(cron);
  auto scaler = floorScaler(cron);
  addPod("report-a", true);
  clock.advance(seconds(4 * 60 + 35));  // 12:05:05
  firer.reconcile("ns/nightly");
  syncTrigger();
  EXPECT_EQ(lastFireTime(), "2026-11-30T12:05:00Z");
  EXPECT_EQ(floor(*scaler), 2) << "windowSeconds asks for the floor, delivered or not";
  clock.advance(seconds(114));  // 12:06:59
  EXPECT_EQ(floor(*scaler), 2);
  clock.advance(seconds(1));  // 12:07:00
  EXPECT_EQ(floor(*scaler), 0);
}

TEST(CronSettledBeforeTest, LastFireTimeOrCreation) {
  json trigger = {{"metadata", {{"creationTimestamp", "2026-11-30T12:00:30Z"}}}};
  EXPECT_EQ(cronSettledBefore(trigger), parseRfc3339("2026-11-30T12:00:30Z"));
  trigger["status"]["lastFireTime"] = "2026-11-30T12:05:00Z";
  EXPECT_EQ(cronSettledBefore(trigger), parseRfc3339("2026-11-30T12:05:01Z"));
}

TEST_F(CronFirerTest, BadTimeZoneIsATerminalErrorNamingTheField) {
  addTrigger({{"schedule", "* * * * *"}, {"timezone", "Mars/Olympus"}});
  auto result = firer.reconcile("ns/nightly");
  EXPECT_TRUE(result.terminal);
  EXPECT_EQ(result.status.message(), "spec: cron timezone: unknown time zone \"Mars/Olympus\"");
}

TEST_F(CronFirerTest, OtherTriggersAreIgnored) {
  json t = {{"apiVersion", "sluice.io/v1alpha1"},
            {"kind", "Trigger"},
            {"metadata", {{"name", "orders"}, {"namespace", "ns"}}},
            {"spec", {{"functionRef", {{"name", "report"}}}, {"http", {{"path", "/orders"}}}}}};
  triggers.upsert(std::make_shared<const json>(*client.create(spec::kTriggers, "ns", t)));
  auto result = firer.reconcile("ns/orders");
  EXPECT_EQ(result.requeueAfterDelay, Clock::Duration::zero());
  EXPECT_TRUE(result.status.isOk());
}

}  // namespace
}  // namespace sluice::controllers
