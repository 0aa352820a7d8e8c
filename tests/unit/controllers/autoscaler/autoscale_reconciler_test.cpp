// The autoscaler loop's rounds on an in-memory apiserver (FakeResourceClient),
// a fake clock and scripted scalers: what it writes to Function and Trigger
// status, when it measures, its Events and metrics.
#include "controllers/autoscaler/autoscale_reconciler.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "common/time.h"
#include "fake_scaler_factory.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "kube/resource.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kNs = "etl";
constexpr const char* kKey = "etl/orders";

class AutoscaleReconcilerTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  testing::FakeResourceClient client{clock};
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  testing::FakeScalerFactory factory;
  reconcile::EventRecorder events{client, "sluice-operator", clock};
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  autoscaler::AutoscalerMetrics metrics{registry};
  AutoscaleReconciler reconciler{{}, client, {functions, triggers}, factory, events, &metrics, clock};

  // Creates the object on the fake apiserver and puts it in the cache, as an informer would.
  json store(const kube::ResourceType& type, kube::ObjectCache& cache, json object) {
    object["metadata"]["namespace"] = kNs;
    auto existing = client.object(type, kNs, object["metadata"]["name"]);
    json stored = existing ? client.put(type, object) : *client.create(type, kNs, object);
    cache.upsert(std::make_shared<const json>(stored));
    return stored;
  }
  json addFunction(json scaling, const json& extraSpec = json::object()) {
    json spec = {{"runtime", "python3.11"}, {"scaling", std::move(scaling)}};
    spec.update(extraSpec);
    return store(spec::kFunctions, functions, {{"metadata", {{"name", "orders"}}}, {"spec", spec}});
  }
  json addTrigger(const std::string& name, const json& source = {{"kafka", {{"topics", {"t"}}}}}) {
    json spec = {{"functionRef", {{"name", "orders"}}}};
    spec.update(source);
    return store(spec::kTriggers, triggers, {{"metadata", {{"name", name}}}, {"spec", spec}});
  }
  // The Function "orders" (max 6 replicas, `extraSpec` added) with one Kafka Trigger reading `lag`.
  auto ordersReadingLag(double lag, const json& extraSpec = json::object()) {
    addFunction({{"maxReplicas", 6}}, extraSpec);
    addTrigger("orders-kafka");
    auto script = factory.script("orders-kafka");
    script->set(lag);
    return script;
  }
  json functionStatus() { return client.object(spec::kFunctions, kNs, "orders")->value("status", json::object()); }
  json triggerStatus(const std::string& name) {
    return client.object(spec::kTriggers, kNs, name)->value("status", json::object());
  }
  int functionStatusWrites() {
    int n = 0;
    for (const auto& call : client.calls()) {
      if (call.verb == "patch" && call.resource.find("functions") != std::string::npos) ++n;
    }
    return n;
  }
  std::vector<std::string> eventReasons() {
    std::vector<std::string> reasons;
    for (const json& e : client.objects(kube::resources::kEvents, kNs)) reasons.push_back(e["reason"]);
    return reasons;
  }
  double sample(const std::string& family, const std::map<std::string, std::string>& labels) {
    for (const auto& f : registry->Collect()) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        bool all = true;
        for (const auto& [k, v] : labels) {
          bool found = false;
          for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
          all = all && found;
        }
        if (!all) continue;
        if (f.type == prometheus::MetricType::Gauge) return m.gauge.value;
        if (f.type == prometheus::MetricType::Counter) return m.counter.value;
        if (f.type == prometheus::MetricType::Histogram) return static_cast<double>(m.histogram.sample_count);
      }
    }
    return -1;
  }
  // Runs the loop as the work queue would for `duration`: each round when it asked to be called.
  // Returns the desiredReplicas after each round.
  std::vector<int> runFor(Clock::Duration duration) {
    std::vector<int> seen;
    const auto until = clock.now() + duration;
    while (clock.now() < until) {
      reconcile::ReconcileResult r = reconciler.reconcile(kKey);
      EXPECT_TRUE(r.status.isOk()) << r.status.toString();
      EXPECT_GT(r.requeueAfterDelay, Clock::Duration::zero());
      seen.push_back(reconciler.lastDecision(kKey)->desiredReplicas);
      clock.advance(r.requeueAfterDelay);
    }
    return seen;
  }
};

// Busy all along, a Function's lastActiveTime moves on once a minute, not every round: a
// timestamp per round made every round a status write.
TEST_F(AutoscaleReconcilerTest, ABusyFunctionMovesLastActiveTimeOnOnceAMinute) {
  addFunction({{"minReplicas", 1}, {"maxReplicas", 3}});
  addTrigger("orders-kafka");
  factory.script("orders-kafka")->set(25);
  std::vector<std::chrono::system_clock::time_point> moves;  // when the stamp changed, and to what
  std::string stamp;
  const auto until = clock.now() + 150s;
  int rounds = 0;
  while (clock.now() < until) {
    reconcile::ReconcileResult r = reconciler.reconcile(kKey);
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    ++rounds;
    const std::string now = functionStatus().value("lastActiveTime", "");
    if (now != stamp) {
      EXPECT_EQ(now, rfc3339(clock.wallNow())) << "a new stamp is the time of its round";
      moves.push_back(clock.wallNow());
      stamp = now;
    }
    clock.advance(r.requeueAfterDelay);
  }
  EXPECT_GE(rounds, 10);
  ASSERT_EQ(moves.size(), 3u) << rounds << " rounds";
  for (size_t i = 1; i < moves.size(); ++i) {
    EXPECT_GE(moves[i] - moves[i - 1], 60s);
    EXPECT_LE(moves[i] - moves[i - 1], 75s) << "the first round a minute on";
  }
}

TEST_F(AutoscaleReconcilerTest, AtZeroChecksWithinASecondAndActivatesOnTheFirstBacklog) {
  addFunction({{"minReplicas", 0}, {"maxReplicas", 6}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");

  reconcile::ReconcileResult idle = reconciler.reconcile(kKey);
  ASSERT_TRUE(idle.status.isOk()) << idle.status.toString();
  EXPECT_LE(idle.requeueAfterDelay, 1s);
  EXPECT_GT(idle.requeueAfterDelay, Clock::Duration::zero());
  json status = functionStatus();
  EXPECT_EQ(status["desiredReplicas"], 0);
  EXPECT_EQ(status["metrics"],
            json::parse(R"([{"trigger":"orders-kafka","value":"0","target":"10","desiredReplicas":0}])"));
  EXPECT_FALSE(status.contains("lastActiveTime"));
  EXPECT_TRUE(eventReasons().empty());

  script->set(25);
  clock.advance(idle.requeueAfterDelay);
  reconcile::ReconcileResult woke = reconciler.reconcile(kKey);
  ASSERT_TRUE(woke.status.isOk());
  status = functionStatus();
  EXPECT_EQ(status["desiredReplicas"], 3);
  EXPECT_EQ(status["metrics"][0]["value"], "25");
  EXPECT_EQ(status["metrics"][0]["desiredReplicas"], 3);
  EXPECT_EQ(status["lastActiveTime"], rfc3339(clock.wallNow()));
  // Above zero: the burst window (6 s) is shorter than the 15 s polling interval.
  EXPECT_EQ(woke.requeueAfterDelay, 6s);
  EXPECT_EQ(eventReasons(), std::vector<std::string>{"Burst"});
  auto event = client.objects(kube::resources::kEvents, kNs)[0];
  EXPECT_EQ(event["message"], "desired replicas 0 -> 3: orders-kafka asks for 3");
  EXPECT_EQ(event["involvedObject"]["name"], "orders");

  // Only the metric fields of the Trigger's status (the rest is the TriggerController's).
  EXPECT_EQ(triggerStatus("orders-kafka"), json::parse(R"({"metricValue": "25", "active": true})"));

  EXPECT_EQ(sample("sluice_autoscaler_desired_replicas", {{"function", kKey}}), 3);
  EXPECT_EQ(sample("sluice_autoscaler_scaler_value", {{"function", kKey}, {"scaler", "orders-kafka"}}), 25);
  EXPECT_EQ(sample("sluice_autoscaler_scale_decisions_total", {{"direction", "up"}, {"reason", "Burst"}}), 1);
  EXPECT_EQ(sample("sluice_autoscaler_scaler_latency_seconds", {{"scaler", "orders-kafka"}}), 2);
  EXPECT_EQ(sample("sluice_autoscaler_loop_latency_seconds", {}), 2);
}

TEST_F(AutoscaleReconcilerTest, NoStatusWriteWhileNothingChanges) {
  addFunction({{"maxReplicas", 6}});
  addTrigger("orders-kafka");
  runFor(10s);  // 20 activation checks at 500 ms
  EXPECT_EQ(factory.script("orders-kafka")->reads.load(), 20);
  EXPECT_EQ(functionStatusWrites(), 1);
  // The Trigger's status is written once as well.
  int triggerWrites = 0;
  for (const auto& call : client.calls()) {
    if (call.verb == "patch" && call.resource.find("triggers") != std::string::npos) ++triggerWrites;
  }
  EXPECT_EQ(triggerWrites, 1);
}

TEST_F(AutoscaleReconcilerTest, AnEarlyCallMeasuresOnlyWhenTheSpecOrTriggersChanged) {
  auto script = ordersReadingLag(15);
  reconcile::ReconcileResult first = reconciler.reconcile(kKey);
  ASSERT_EQ(first.requeueAfterDelay, 6s);
  ASSERT_EQ(script->reads.load(), 1);

  // A status write by someone else (same generation) 2 s later: no round.
  clock.advance(2s);
  reconcile::ReconcileResult early = reconciler.reconcile(kKey);
  EXPECT_EQ(early.requeueAfterDelay, 4s);
  EXPECT_EQ(script->reads.load(), 1);

  // A Trigger edit (new generation): measured now, with a scaler built afresh.
  json trigger = *client.object(spec::kTriggers, kNs, "orders-kafka");
  trigger["spec"]["kafka"]["lagThreshold"] = 5;
  store(spec::kTriggers, triggers, trigger);
  reconcile::ReconcileResult edited = reconciler.reconcile(kKey);
  EXPECT_EQ(edited.requeueAfterDelay, 6s);
  EXPECT_EQ(script->reads.load(), 2);
  EXPECT_EQ(factory.creates("orders-kafka"), 2);
}

// A failed status write (a conflict, the apiserver away) is retried by the queue: that retry
// measures and writes again, and the Function keeps being scaled afterwards.
TEST_F(AutoscaleReconcilerTest, AFailedStatusWriteIsMeasuredAgainOnTheRetry) {
  addFunction({{"minReplicas", 0}, {"maxReplicas", 6}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  script->set(25);
  client.failNext("patch", unavailable("the apiserver is away"), 1, "functions");
  reconcile::ReconcileResult failed = reconciler.reconcile(kKey);
  EXPECT_FALSE(failed.status.isOk());
  EXPECT_FALSE(functionStatus().contains("desiredReplicas"));

  clock.advance(1s);  // the queue's backoff
  reconcile::ReconcileResult retried = reconciler.reconcile(kKey);
  ASSERT_TRUE(retried.status.isOk()) << retried.status.toString();
  EXPECT_EQ(script->reads.load(), 2);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 3);
  EXPECT_GT(retried.requeueAfterDelay, Clock::Duration::zero());

  script->set(60);
  clock.advance(retried.requeueAfterDelay);
  ASSERT_TRUE(reconciler.reconcile(kKey).status.isOk());
  EXPECT_EQ(functionStatus()["desiredReplicas"], 6);
}

TEST_F(AutoscaleReconcilerTest, AWakeMeasuresAtZeroBeforeTheNextCheck) {
  addFunction({{"minReplicas", 0}, {"maxReplicas", 6}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  reconcile::ReconcileResult idle = reconciler.reconcile(kKey);
  ASSERT_EQ(idle.requeueAfterDelay, 500ms);
  ASSERT_EQ(script->reads.load(), 1);

  // Work arrives 100 ms later; an early call without a wake still waits for the check.
  clock.advance(100ms);
  script->set(3);
  EXPECT_EQ(reconciler.reconcile(kKey).requeueAfterDelay, 400ms);
  EXPECT_EQ(script->reads.load(), 1);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 0);

  // A gateway says a request waits: measured now, activated now.
  reconciler.wake(kKey);
  EXPECT_TRUE(reconciler.reconcile(kKey).status.isOk());
  EXPECT_EQ(script->reads.load(), 2);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 1);
  EXPECT_EQ(reconciler.lastDecision(kKey)->reason, "Activation");

  // The wake is used up: the next early call waits again.
  clock.advance(100ms);
  EXPECT_GT(reconciler.reconcile(kKey).requeueAfterDelay, Clock::Duration::zero());
  EXPECT_EQ(script->reads.load(), 2);
}

TEST_F(AutoscaleReconcilerTest, AtZeroCheckIntervalOverridesTheFunctionsOwn) {
  AutoscaleReconcilerOptions options;
  options.atZeroCheckInterval = 30s;
  AutoscaleReconciler slow{options, client, {functions, triggers}, factory, events, nullptr, clock};
  addFunction({{"minReplicas", 0}, {"maxReplicas", 6}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  EXPECT_EQ(slow.reconcile(kKey).requeueAfterDelay, 30s);
  // Above zero the Function's own schedule holds.
  script->set(15);
  slow.wake(kKey);
  EXPECT_EQ(slow.reconcile(kKey).requeueAfterDelay, 6s);
  EXPECT_EQ(slow.lastDecision(kKey)->desiredReplicas, 2);
}

TEST_F(AutoscaleReconcilerTest, DrainedBackToZeroOnlyAfterCooldown) {
  addFunction({{"maxReplicas", 6}, {"cooldownSeconds", 5}, {"scaleDown", {{"stabilizationWindowSeconds", 0}}}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  script->set(60);
  std::vector<int> up = runFor(2s);
  ASSERT_EQ(up.front(), 6);

  script->set(0);
  const auto drainedAt = clock.now();
  std::optional<Clock::TimePoint> zeroAt;
  std::optional<Clock::TimePoint> oneAt;
  while (!zeroAt && clock.now() < drainedAt + 10min) {
    reconcile::ReconcileResult r = reconciler.reconcile(kKey);
    int desired = reconciler.lastDecision(kKey)->desiredReplicas;
    if (desired == 1 && !oneAt) oneAt = clock.now();
    if (desired == 0) zeroAt = clock.now();
    clock.advance(r.requeueAfterDelay);
  }
  ASSERT_TRUE(zeroAt) << "never back to 0";
  ASSERT_TRUE(oneAt) << "went to 0 without passing 1";
  EXPECT_EQ(functionStatus()["desiredReplicas"], 0);
  // 1 -> 0 is its own step, cooldownSeconds after the last activity at the earliest.
  EXPECT_LT(*oneAt, *zeroAt);
  EXPECT_GE(*zeroAt - drainedAt, 5s);
  auto reasons = eventReasons();
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "CooldownElapsed"), reasons.end());
  EXPECT_EQ(sample("sluice_autoscaler_scale_decisions_total", {{"direction", "down"}, {"reason", "CooldownElapsed"}}),
            1);
}

TEST_F(AutoscaleReconcilerTest, FailingScalerHoldsThenFallsBackAndIsRebuilt) {
  addFunction({{"maxReplicas", 6},
               {"scaleDown", {{"stabilizationWindowSeconds", 0}}},
               {"fallback", {{"failureThreshold", 3}, {"replicas", 2}}}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  script->set(40);
  runFor(1s);
  ASSERT_EQ(functionStatus()["desiredReplicas"], 4);

  script->fail("kafka lag of group g: reading metadata: Local: Broker transport failure");
  // Below the threshold the count holds at 4.
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  EXPECT_EQ(reconciler.lastDecision(kKey)->desiredReplicas, 4);
  EXPECT_EQ(
      reconciler.lastDecision(kKey)->metrics[0].error,
      "Trigger orders-kafka: Unavailable: kafka lag of group g: reading metadata: Local: Broker transport failure");
  // The Trigger keeps its last measurement.
  EXPECT_EQ(triggerStatus("orders-kafka")["metricValue"], "40");
  EXPECT_EQ(functionStatus()["metrics"][0]["value"], "unknown");
  EXPECT_EQ(sample("sluice_autoscaler_scaler_errors_total", {{"scaler", "orders-kafka"}}), 1);

  // After three failures: the fallback count, never zero; the scaler is built afresh.
  for (int i = 0; i < 30; ++i) {
    clock.advance(r.requeueAfterDelay);
    r = reconciler.reconcile(kKey);
  }
  EXPECT_EQ(reconciler.lastDecision(kKey)->desiredReplicas, 2);
  EXPECT_TRUE(reconciler.lastDecision(kKey)->fallback);
  EXPECT_GE(factory.creates("orders-kafka"), 2);
  auto reasons = eventReasons();
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "Fallback"), reasons.end());
}

TEST_F(AutoscaleReconcilerTest, TriggerThatCannotBeBuiltIsAFailingScalerNotIdleness) {
  addFunction({{"maxReplicas", 6}});
  addTrigger("orders-rabbit", {{"rabbitmq", {{"queue", "q"}}}});
  factory.failCreate("orders-rabbit",
                     notFound("spec.rabbitmq.connectionSecretRef: Secret etl/rabbit has no key managementUrl"));
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  ASSERT_TRUE(r.status.isOk());
  EXPECT_EQ(reconciler.lastDecision(kKey)->reason, "ScalerError");
  EXPECT_EQ(reconciler.lastDecision(kKey)->metrics[0].error,
            "Trigger orders-rabbit: NotFound: spec.rabbitmq.connectionSecretRef: Secret etl/rabbit has no key "
            "managementUrl");
  EXPECT_EQ(functionStatus()["desiredReplicas"], 0);
  EXPECT_EQ(functionStatus()["metrics"][0]["value"], "unknown");
  EXPECT_FALSE(triggerStatus("orders-rabbit").contains("metricValue"));

  // Retried every 5 s (not every 500 ms round); once the Secret is fixed it measures.
  clock.advance(1s);
  (void)reconciler.reconcile(kKey);
  EXPECT_EQ(factory.creates("orders-rabbit"), 1);
  factory.failCreate("orders-rabbit", Status::ok());
  factory.script("orders-rabbit")->set(5);
  clock.advance(5s);
  (void)reconciler.reconcile(kKey);
  EXPECT_EQ(factory.creates("orders-rabbit"), 2);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 1);
  EXPECT_EQ(triggerStatus("orders-rabbit"), json::parse(R"({"metricValue": "5", "active": true})"));
}

TEST_F(AutoscaleReconcilerTest, FunctionWithoutMeasurableTriggersIsLeftAlone) {
  addFunction({{"maxReplicas", 6}});
  reconcile::ReconcileResult none = reconciler.reconcile(kKey);
  EXPECT_TRUE(none.status.isOk());
  EXPECT_EQ(none.requeueAfterDelay, Clock::Duration::zero());
  addTrigger("orders-http", {{"http", {{"path", "/orders"}}}});
  reconcile::ReconcileResult http = reconciler.reconcile(kKey);
  EXPECT_TRUE(http.status.isOk());
  EXPECT_EQ(http.requeueAfterDelay, Clock::Duration::zero());
  EXPECT_EQ(functionStatusWrites(), 0);
  EXPECT_FALSE(functionStatus().contains("desiredReplicas"));
}

TEST_F(AutoscaleReconcilerTest, SpecReplicasPinsTheCount) {
  addFunction({{"maxReplicas", 6}}, {{"replicas", 4}});
  addTrigger("orders-kafka");
  factory.script("orders-kafka")->set(60);
  (void)reconciler.reconcile(kKey);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 4);
  EXPECT_EQ(reconciler.lastDecision(kKey)->reason, "Pinned");
}

// The measurements of a pinned Function inform only its status: once a minute, not at the
// burst window's 6 s (1,000 pinned Functions were 170 rounds a second of broker reads).
TEST_F(AutoscaleReconcilerTest, APinnedFunctionIsMeasuredOnceAMinute) {
  auto script = ordersReadingLag(60, {{"replicas", 4}});
  reconcile::ReconcileResult first = reconciler.reconcile(kKey);
  EXPECT_EQ(first.requeueAfterDelay, 60s);
  EXPECT_EQ(script->reads.load(), 1);
  EXPECT_EQ(functionStatus()["metrics"][0]["value"], "60");

  // A status write by someone else in between measures nothing.
  clock.advance(6s);
  EXPECT_EQ(reconciler.reconcile(kKey).requeueAfterDelay, 54s);
  EXPECT_EQ(script->reads.load(), 1);

  // Unpinned (a spec change): measured at once, and at the burst window's pace again.
  json function = *client.object(spec::kFunctions, kNs, "orders");
  function["spec"].erase("replicas");
  function["metadata"]["generation"] = function["metadata"].value("generation", 1) + 1;
  store(spec::kFunctions, functions, function);
  EXPECT_EQ(reconciler.reconcile(kKey).requeueAfterDelay, 6s);
  EXPECT_EQ(script->reads.load(), 2);
}

// A held count reads no cooldown: its lastActiveTime moves on every 5 minutes, not every minute
// (1,000 pinned Kafka Functions: 8 of the idle operator's 12 requests a second).
TEST_F(AutoscaleReconcilerTest, APinnedBusyFunctionMovesLastActiveTimeOnEveryFiveMinutes) {
  auto script = ordersReadingLag(60, {{"replicas", 4}});
  std::vector<std::chrono::system_clock::time_point> moves;
  std::string stamp;
  const auto until = clock.now() + 11min;
  while (clock.now() < until) {
    reconcile::ReconcileResult r = reconciler.reconcile(kKey);
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    const std::string now = functionStatus().value("lastActiveTime", "");
    if (now != stamp) {
      moves.push_back(clock.wallNow());
      stamp = now;
    }
    clock.advance(r.requeueAfterDelay);
  }
  ASSERT_EQ(moves.size(), 3u);
  EXPECT_EQ(functionStatusWrites(), 3) << "a round that changes nothing writes nothing";
  for (size_t i = 1; i < moves.size(); ++i) {
    EXPECT_GE(moves[i] - moves[i - 1], 5min);
    EXPECT_LE(moves[i] - moves[i - 1], 6min) << "the first round of the minute after";
  }
}

TEST_F(AutoscaleReconcilerTest, InvalidScalingIsTerminalWithAWarningNamingTheField) {
  addFunction({{"minReplicas", 3}, {"maxReplicas", 2}});
  addTrigger("orders-kafka");
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  EXPECT_TRUE(r.terminal);
  EXPECT_EQ(r.status.message(), "Function etl/orders: spec.scaling.maxReplicas: 2 is below minReplicas 3");
  EXPECT_EQ(eventReasons(), std::vector<std::string>{"InvalidScaling"});
  EXPECT_EQ(functionStatusWrites(), 0);
  // The same spec again (a watch event) is not re-reported.
  reconcile::ReconcileResult again = reconciler.reconcile(kKey);
  EXPECT_TRUE(again.status.isOk());
}

TEST_F(AutoscaleReconcilerTest, DeletedFunctionDropsItsState) {
  addFunction({{"maxReplicas", 6}});
  addTrigger("orders-kafka");
  (void)reconciler.reconcile(kKey);
  ASSERT_TRUE(reconciler.lastDecision(kKey));
  functions.erase(kKey);
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  EXPECT_EQ(r.requeueAfterDelay, Clock::Duration::zero());
  EXPECT_FALSE(reconciler.lastDecision(kKey));
}

TEST_F(AutoscaleReconcilerTest, ResumesFromTheDesiredCountInStatusAfterARestart) {
  json fn = addFunction({{"maxReplicas", 6}, {"scaleDown", {{"stabilizationWindowSeconds", 0}}}});
  addTrigger("orders-kafka");
  // A previous leader left desiredReplicas 5; the backlog now asks for 2.
  ASSERT_TRUE(client
                  .patch(spec::kFunctions, kNs, "orders", kube::PatchType::kMerge,
                         {{"status", {{"desiredReplicas", 5}}}}, {"test", false, "status"})
                  .isOk());
  store(spec::kFunctions, functions, *client.object(spec::kFunctions, kNs, "orders"));
  factory.script("orders-kafka")->set(20);
  (void)reconciler.reconcile(kKey);
  EXPECT_EQ(reconciler.lastDecision(kKey)->currentReplicas, 5);
  EXPECT_EQ(reconciler.lastDecision(kKey)->desiredReplicas, 2);
}

TEST_F(AutoscaleReconcilerTest, MeasuredRatesShowInStatusAndMetricsAndDriveTheRateRule) {
  json function = addFunction({{"maxReplicas", 50}});
  // Two replicas are ready (the FunctionController's word).
  function["status"] = {{"replicas", 2}, {"readyReplicas", 2}};
  functions.upsert(std::make_shared<const json>(function));
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  // 300 events wait all along; 1,000 arrive and the two replicas commit 400 every 10 s.
  for (int round = 0; round < 3; ++round) {
    {
      std::lock_guard lock(script->mu);
      script->value = 300;
      script->processedTotal = 400.0 * round;
      script->arrivedTotal = 1000.0 * round;
    }
    ASSERT_TRUE(reconciler.reconcile(kKey).status.isOk());
    clock.advance(10s);
  }
  const json entry = functionStatus()["metrics"][0];
  EXPECT_EQ(entry["arrivalRate"], "100");
  EXPECT_EQ(entry["perReplicaRate"], "20");
  EXPECT_EQ(entry["rule"], "rate");
  // ceil(100 / 20 + 300 / (20 x 2 s)) = 13, where the backlog rule (300 / 10) asks for 30.
  EXPECT_EQ(entry["desiredReplicas"], 13);
  EXPECT_EQ(sample("sluice_autoscaler_arrival_rate", {{"function", kKey}, {"scaler", "orders-kafka"}}), 100);
  EXPECT_EQ(sample("sluice_autoscaler_per_replica_rate", {{"function", kKey}, {"scaler", "orders-kafka"}}), 20);
}

TEST_F(AutoscaleReconcilerTest, StartToReadyOfAScaleUpIsTheMeasuredColdStart) {
  json function = addFunction({{"maxReplicas", 10}});
  addTrigger("orders-kafka");
  auto script = factory.script("orders-kafka");
  {
    std::lock_guard lock(script->mu);
    script->value = 30;
    script->processedTotal = 0;
    script->arrivedTotal = 0;
  }
  reconcile::ReconcileResult up = reconciler.reconcile(kKey);
  ASSERT_TRUE(up.status.isOk());
  ASSERT_EQ(functionStatus()["desiredReplicas"], 3);
  EXPECT_FALSE(functionStatus()["metrics"][0].contains("coldStartSeconds"));
  // The three replicas are ready by the next round.
  function["status"] = {{"replicas", 3}, {"readyReplicas", 3}};
  functions.upsert(std::make_shared<const json>(function));
  clock.advance(up.requeueAfterDelay);
  reconcile::ReconcileResult ready = reconciler.reconcile(kKey);
  ASSERT_TRUE(ready.status.isOk());
  clock.advance(ready.requeueAfterDelay);
  ASSERT_TRUE(reconciler.reconcile(kKey).status.isOk());
  const double seconds = std::chrono::duration<double>(up.requeueAfterDelay).count();
  EXPECT_EQ(functionStatus()["metrics"][0]["coldStartSeconds"], formatMetricValue(seconds));
}

// A pinned count is the user's: the loop looks at it once a minute and measured every cold start
// as that minute (coldStartSeconds 59.99 in status, a status write for it). It measures none.
TEST_F(AutoscaleReconcilerTest, APinnedFunctionMeasuresNoColdStart) {
  auto script = ordersReadingLag(0, {{"replicas", 1}});
  {
    std::lock_guard lock(script->mu);  // counters too, so the rates (and a cold start) are published
    script->processedTotal = 0;
    script->arrivedTotal = 0;
  }
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  ASSERT_TRUE(r.status.isOk());
  EXPECT_EQ(r.requeueAfterDelay, 60s);
  json function = *functions.get(kKey);
  function["status"] = {{"replicas", 1}, {"readyReplicas", 1}, {"desiredReplicas", 1}};
  functions.upsert(std::make_shared<const json>(function));
  runFor(4min);
  EXPECT_FALSE(functionStatus()["metrics"][0].contains("coldStartSeconds")) << functionStatus().dump();
}

TEST(FormatMetricValueTest, IntegersPlainOthersShort) {
  EXPECT_EQ(formatMetricValue(120), "120");
  EXPECT_EQ(formatMetricValue(0), "0");
  EXPECT_EQ(formatMetricValue(0.25), "0.25");
  EXPECT_EQ(formatMetricValue(1.0 / 3), "0.333333");
}

TEST_F(AutoscaleReconcilerTest, CpuUtilizationScalesReplicasAndNeverActivatesFromZero) {
  addFunction({{"minReplicas", 0}, {"maxReplicas", 10}, {"cpuTargetUtilization", 50}},
              {{"resources", {{"requests", {{"cpu", "500m"}}}}}});
  addTrigger("orders-kafka");
  auto cpu = factory.script("CPU");
  cpu->set(100);  // busy, but there is no replica to be busy: utilization says nothing at zero
  reconciler.reconcile(kKey);
  EXPECT_EQ(reconciler.lastDecision(kKey)->desiredReplicas, 0);
  EXPECT_EQ(functionStatus()["desiredReplicas"], 0);

  // Two replicas at 100% of a 50% target: four (HPA: ceil(2 * 100 / 50)).
  store(spec::kFunctions, functions,
        {{"metadata", {{"name", "orders"}}},
         {"spec",
          {{"runtime", "python3.11"},
           {"scaling", {{"minReplicas", 0}, {"maxReplicas", 10}, {"cpuTargetUtilization", 50}}},
           {"resources", {{"requests", {{"cpu", "500m"}}}}}}},
         {"status", {{"desiredReplicas", 2}}}});
  AutoscaleReconciler fresh{{}, client, {functions, triggers}, factory, events, &metrics, clock};
  fresh.reconcile(kKey);
  EXPECT_EQ(fresh.lastDecision(kKey)->desiredReplicas, 4);
  json metricsStatus = functionStatus()["metrics"];
  json cpuEntry;
  for (const json& m : metricsStatus) {
    if (m["trigger"] == "CPU") cpuEntry = m;
  }
  ASSERT_FALSE(cpuEntry.is_null()) << metricsStatus.dump();
  EXPECT_EQ(cpuEntry["value"], "100");
  EXPECT_EQ(cpuEntry["target"], "50");
  EXPECT_EQ(cpuEntry["desiredReplicas"], 4);
  EXPECT_EQ(factory.creates("CPU"), 2) << "one CPU scaler per reconciler and Function generation";
}

TEST_F(AutoscaleReconcilerTest, CpuAloneMakesAFunctionMeasurable) {
  addFunction({{"minReplicas", 1}, {"maxReplicas", 10}, {"cpuTargetUtilization", 80}},
              {{"resources", {{"requests", {{"cpu", "1"}}}}}});
  factory.script("CPU")->set(20);
  reconcile::ReconcileResult r = reconciler.reconcile(kKey);
  EXPECT_GT(r.requeueAfterDelay, Clock::Duration::zero()) << "scaled by this loop, so it comes back";
  EXPECT_EQ(functionStatus()["desiredReplicas"], 1);
}

}  // namespace
}  // namespace sluice::controllers
