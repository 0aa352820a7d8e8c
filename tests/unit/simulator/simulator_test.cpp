// The simulator on small traces whose outcomes are worked out by hand (100 ms
// steps; events arrive mid-step and are served at the end of a step).
#include "simulator/simulator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sluice::simulator {
namespace {

Trace trace(std::vector<double> arrivals, double rate = 10, double cold = 1, int partitions = 0) {
  Trace t;
  t.serviceRatePerReplica = rate;
  t.coldStartSeconds = cold;
  t.warmStartSeconds = cold;
  t.partitions = partitions;
  t.arrivals = std::move(arrivals);
  return t;
}

SimulatedFunction function(int cooldown = 300) {
  SimulatedFunction f;
  f.policy.cooldownSeconds = cooldown;
  f.targetPerReplica = 10;
  return f;
}

std::vector<double> withIdleTail(std::vector<double> head, size_t length) {
  head.resize(length, 0);
  return head;
}

TEST(SimulatorTest, StaticPeakRunsThePeakReplicasAllTheTime) {
  SimulationResult r = simulate(trace({20, 0, 0}), function(), Policy::kStaticPeak);
  EXPECT_DOUBLE_EQ(r.replicaSeconds, 6.0);
  EXPECT_NEAR(r.latencyP50Seconds, 0.05, 1e-9);
  EXPECT_NEAR(r.latencyP99Seconds, 0.05, 1e-9);
  EXPECT_EQ(r.backlogMax, 0);
  EXPECT_EQ(r.scaleEvents, 0);
  EXPECT_EQ(r.replicasPerSecond, (std::vector<int>{2, 2, 2}));
}

TEST(SimulatorTest, StaticPeakIsCappedAtThePartitionCount) {
  SimulationResult r = simulate(trace({100}, 10, 1, 2), function(), Policy::kStaticPeak);
  EXPECT_EQ(r.replicasPerSecond.front(), 2);
}

TEST(SimulatorTest, SluiceActivatesOnTheFirstEventAndPaysOneColdStart) {
  SimulationResult r = simulate(trace({10, 0, 0, 0, 0}), function(), Policy::kSluice);
  EXPECT_NEAR(r.replicaSeconds, 5.0, 1e-9);
  EXPECT_NEAR(r.latencyP50Seconds, 1.05, 1e-9);
  EXPECT_NEAR(r.latencyP99Seconds, 1.05, 1e-9);
  EXPECT_NEAR(r.backlogMax, 10, 1e-9);
  EXPECT_EQ(r.scaleEvents, 1);
  EXPECT_EQ(r.replicasPerSecond, (std::vector<int>{1, 1, 1, 1, 1}));
  EXPECT_NEAR(r.eventsTotal, 10, 1e-9);
}

TEST(SimulatorTest, AWarmPoolPodStartsInItsWarmTime) {
  Trace t = trace({10, 0, 0, 0, 0});
  t.warmPool = 1;
  t.warmStartSeconds = 0.2;
  SimulationResult r = simulate(t, function(), Policy::kSluice);
  EXPECT_NEAR(r.latencyP99Seconds, 0.25, 1e-9);
  EXPECT_NEAR(r.warmPoolReplicaSeconds, 5.0, 1e-9);
  EXPECT_NEAR(r.replicaSeconds, 5.0, 1e-9);
}

TEST(SimulatorTest, KedaDefaultNoticesWorkAtZeroOnlyAtItsThirtySecondPoll) {
  Trace t = trace(withIdleTail({0, 10}, 40));
  SimulationResult keda = simulate(t, function(), Policy::kKedaDefault);
  EXPECT_NEAR(keda.latencyP50Seconds, 30.05, 1e-9);
  EXPECT_NEAR(keda.latencyP99Seconds, 30.05, 1e-9);
  EXPECT_NEAR(keda.replicaSeconds, 10.0, 1e-9);  // from 30 s to 40 s

  SimulationResult sluice = simulate(t, function(), Policy::kSluice);
  EXPECT_NEAR(sluice.latencyP99Seconds, 1.05, 1e-9);  // the 0.5 s check at t=1.0 s, then a 1 s cold start
  EXPECT_NEAR(sluice.replicaSeconds, 39.0, 1e-9);     // cooldown 300 s keeps the replica
}

TEST(SimulatorTest, SluiceScalesToZeroAfterCooldownAtItsNextCheck) {
  SimulatedFunction f = function(5);
  SimulationResult r = simulate(trace(withIdleTail({10}, 40)), f, Policy::kSluice);
  // The last arrivals are read at 6.5 s (activation at 0.5 s, then the burst window's 6 s until a
  // rate is measured). Under the rate rule arrivals are activity while the 15 s arrival window holds
  // them, to 20.5 s; the cooldown of 5 s then ends at the check of 25.5 s.
  std::vector<int> expected(40, 0);
  std::fill(expected.begin(), expected.begin() + 25, 1);
  EXPECT_EQ(r.replicasPerSecond, expected);
  EXPECT_NEAR(r.replicaSeconds, 25.0, 1e-9);
  EXPECT_EQ(r.scaleEvents, 2);
}

TEST(SimulatorTest, KedaDropsAllReplicasAtOnceAfterCooldown) {
  // 40 events/s for 20 s at 10/s per replica and 0 s starts; then idle.
  std::vector<double> arrivals(20, 40);
  arrivals.resize(400, 0);
  SimulationResult r = simulate(trace(arrivals, 10, 0), function(), Policy::kKedaDefault);
  int maxReplicas = *std::max_element(r.replicasPerSecond.begin(), r.replicasPerSecond.end());
  EXPECT_GE(maxReplicas, 2);
  // Find the step to zero: the second before it still ran more than one replica.
  auto zero = std::find(r.replicasPerSecond.begin() + 1, r.replicasPerSecond.end(), 0);
  ASSERT_NE(zero, r.replicasPerSecond.end());
  EXPECT_GT(*(zero - 1), 1);
}

TEST(SimulatorTest, SameInputsGiveTheSameJson) {
  std::vector<double> arrivals;
  arrivals.reserve(600);
  for (int i = 0; i < 600; ++i) arrivals.push_back((i / 60) % 2 == 0 ? 55.0 + i % 7 : 0);
  Trace t = trace(arrivals, 10, 2, 6);
  std::string a = toJson(simulate(t, function(60), Policy::kSluice));
  std::string b = toJson(simulate(t, function(60), Policy::kSluice));
  EXPECT_EQ(a, b);
  nlohmann::json j = nlohmann::json::parse(a);
  for (const char* key :
       {"replica_seconds", "latency_p50_s", "latency_p99_s", "backlog_max", "scale_events", "replicas"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["policy"], "sluice");
  EXPECT_EQ(j["replicas"].size(), 600u);
}

TEST(TraceParseTest, ReadsFieldsAndNamesBadOnes) {
  Result<Trace> ok = parseTrace(
      R"({"service_rate_per_replica": 50, "cold_start_seconds": 3, "warm_start_seconds": 0.1, "warm_pool": 2, "partitions": 6, "arrivals": [1, 2.5, 0]})");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->serviceRatePerReplica, 50);
  EXPECT_EQ(ok->warmPool, 2);
  EXPECT_EQ(ok->partitions, 6);
  EXPECT_EQ(ok->arrivals, (std::vector<double>{1, 2.5, 0}));

  EXPECT_EQ(parseTrace(R"({"cold_start_seconds": 1, "arrivals": [1]})").status().message(),
            "trace.service_rate_per_replica: missing");
  EXPECT_EQ(
      parseTrace(R"({"service_rate_per_replica": 5, "cold_start_seconds": 1, "arrivals": [1, -2]})").status().message(),
      "trace.arrivals[1]: -2 is negative");
  EXPECT_EQ(
      parseTrace(R"({"service_rate_per_replica": "x", "cold_start_seconds": 1, "arrivals": [1]})").status().message(),
      "trace.service_rate_per_replica: \"x\" is not a number");
  EXPECT_EQ(parseTrace("[").status().code(), StatusCode::kInvalidArgument);
}

TEST(FunctionParseTest, ReadsScalingAndTheTriggerTarget) {
  Result<SimulatedFunction> f = parseFunction(R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: etl}
spec:
  scaling:
    minReplicas: 0
    maxReplicas: 12
    cooldownSeconds: 60
    pollingIntervalSeconds: 5
    warmPool: {size: 2}
    behavior:
      scaleDown:
        stabilizationWindowSeconds: 60
        policies: [{type: Percent, value: 50, periodSeconds: 30}]
    fallback: {failureThreshold: 4, replicas: 2}
    burst: {enabled: false}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
spec:
  kafka: {lagThreshold: 100, activationLagThreshold: 3}
)");
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  EXPECT_EQ(f->policy.maxReplicas, 12);
  EXPECT_EQ(f->policy.cooldownSeconds.value_or(-1), 60);
  EXPECT_EQ(f->policy.pollingIntervalSeconds, 5);
  EXPECT_EQ(f->policy.warmPool, 2);
  EXPECT_EQ(f->policy.scaleDown.stabilizationWindowSeconds, 60);
  ASSERT_EQ(f->policy.scaleDown.policies.size(), 1u);
  EXPECT_EQ(f->policy.scaleDown.policies[0].value, 50);
  EXPECT_EQ(f->policy.scaleUp.stabilizationWindowSeconds, 0);  // HPA default kept
  EXPECT_EQ(f->policy.fallback->failureThreshold, 4);
  EXPECT_FALSE(f->policy.burst.enabled);
  EXPECT_EQ(f->targetPerReplica, 100);
  EXPECT_EQ(f->activationThreshold, 3);
}

TEST(FunctionParseTest, AnHttpTriggerScalesOnConcurrencyOrItsRequestRate) {
  const std::string function = R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: api}
spec:
  concurrency: 4
  scaling:
    burst: {windowSeconds: 10, stableWindowSeconds: 120}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
spec:
)";
  Result<SimulatedFunction> rate = parseFunction(function + "  http: {path: /, targetRequestsPerSecond: 20}\n");
  ASSERT_TRUE(rate.isOk()) << rate.status().toString();
  EXPECT_EQ(rate->metric, SimulatedMetric::kHttpRequestsPerSecond);
  EXPECT_EQ(rate->targetPerReplica, 20);
  EXPECT_EQ(rate->policy.burst.windowSeconds, 10);
  EXPECT_EQ(rate->policy.burst.stableWindowSeconds, 120);
  Result<SimulatedFunction> concurrency = parseFunction(function + "  http: {path: /}\n");
  ASSERT_TRUE(concurrency.isOk()) << concurrency.status().toString();
  EXPECT_EQ(concurrency->metric, SimulatedMetric::kHttpConcurrency);
  EXPECT_EQ(concurrency->targetPerReplica, 4) << "the Function's spec.concurrency";
  Result<SimulatedFunction> both =
      parseFunction(function + "  http: {path: /, targetConcurrency: 2, targetRequestsPerSecond: 20}\n");
  ASSERT_FALSE(both.isOk());
  EXPECT_EQ(both.status().message(), "spec.http: set targetConcurrency or targetRequestsPerSecond, not both");
}

TEST(SimulatorTest, ARequestRateTargetWakesInBurstHoldsTheRateAndDrainsToZero) {
  // 40 s at 100 requests/s, a replica serving 25/s and sized for 20/s: 5 replicas.
  std::vector<double> arrivals(40, 100);
  arrivals.resize(400, 0);
  SimulatedFunction f = function(30);
  f.metric = SimulatedMetric::kHttpRequestsPerSecond;
  f.targetPerReplica = 20;
  f.policy.scaleDown.stabilizationWindowSeconds = 0;
  SimulationResult r = simulate(trace(arrivals, 25, 1), f, Policy::kSluice);
  EXPECT_EQ(r.metric, "http-rps");
  EXPECT_EQ(*std::max_element(r.replicasPerSecond.begin(), r.replicasPerSecond.end()), 5);
  EXPECT_EQ(r.replicasPerSecond[1], 5) << "from zero the first reading (100/s) asks for 5 at once";
  for (int second = 1; second < 40; ++second) ASSERT_EQ(r.replicasPerSecond[second], 5) << "second " << second;
  // Burst from the wake-up, held 60 s after the last spike test passed.
  EXPECT_GE(r.burstSeconds, 60);
  EXPECT_EQ(r.replicasPerSecond.back(), 0) << "idle: the stable mean decays, then the 30 s cooldown";
  EXPECT_EQ(nlohmann::json::parse(toJson(r))["metric"], "http-rps");
}

TEST(FunctionParseTest, ErrorsNameTheField) {
  const std::string head = "apiVersion: sluice.io/v1alpha1\nkind: Function\nspec:\n  scaling:\n";
  EXPECT_EQ(parseFunction(head + "    maxReplicas: many\n").status().message(),
            "spec.scaling.maxReplicas: \"many\" is not an integer");
  EXPECT_EQ(parseFunction(head + "    minReplicas: 5\n    maxReplicas: 2\n").status().message(),
            "spec.scaling.maxReplicas: 2 is below minReplicas 5");
  EXPECT_EQ(parseFunction(head + "    behavior:\n      scaleUp:\n        policies: [{type: Pod, value: 1}]\n")
                .status()
                .message(),
            "spec.scaling.behavior.scaleUp.policies[0].type: \"Pod\" is not Pods or Percent");
  EXPECT_EQ(parseFunction("apiVersion: v1\nkind: Function\n").status().message(),
            "apiVersion: \"v1\" is not sluice.io/v1alpha1");
  EXPECT_EQ(parseFunction("kind: ConfigMap\n").status().message(),
            "kind: no Function document (sluice.io/v1alpha1) in the file");
  EXPECT_EQ(parsePolicy("hpa").status().message(), "--policy: \"hpa\" is not sluice, keda-default or static-peak");
}

TEST(FunctionParseTest, TriggerTargetsAreTheOperatorsWithItsDefaults) {
  const std::string function = "apiVersion: sluice.io/v1alpha1\nkind: Function\nspec: {}\n---\n";
  Result<SimulatedFunction> store = parseFunction(
      function + "apiVersion: sluice.io/v1alpha1\nkind: Trigger\nspec:\n  objectStore: {activationObjectCount: 2}\n");
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_EQ(store->targetPerReplica, 5);
  EXPECT_EQ(store->activationThreshold, 2);
  Result<SimulatedFunction> zero =
      parseFunction(function + "apiVersion: sluice.io/v1alpha1\nkind: Trigger\nspec:\n  kafka: {lagThreshold: 0}\n");
  EXPECT_EQ(zero.status().message(), "spec.kafka.lagThreshold: 0 must be at least 1");
}

}  // namespace
}  // namespace sluice::simulator

namespace sluice::simulator {
namespace {

// Issue 19's steady-rate criterion on the simulator: a Function with default
// settings under a steady 450 events/s, 100/s per replica, settles at
// ceil(450 / 100) = 5 replicas by the measured rates; the backlog rule with
// KEDA's lag target of 10 settles higher (it keeps a backlog of ~10 per replica).
TEST(SimulatorRateTest, SteadyRateSettlesAtArrivalsOverTheMeasuredPerReplicaRate) {
  Trace t = trace(std::vector<double>(900, 450), 100, 5);
  SimulatedFunction rate = function();
  SimulationResult r = simulate(t, rate, Policy::kSluice);
  EXPECT_NEAR(r.perReplicaRate, 100, 1e-6);
  EXPECT_GT(r.rateRuleDecisions, 0);
  const std::vector<int> settled(r.replicasPerSecond.begin() + 300, r.replicasPerSecond.begin() + 900);
  EXPECT_EQ(*std::min_element(settled.begin(), settled.end()), 5);
  EXPECT_EQ(*std::max_element(settled.begin(), settled.end()), 5);

  SimulatedFunction backlog = function();
  backlog.policy.mode = autoscaler::ScalingMode::kBacklog;
  SimulationResult b = simulate(t, backlog, Policy::kSluice);
  EXPECT_EQ(b.rateRuleDecisions, 0);
  EXPECT_LT(r.replicaSeconds, b.replicaSeconds);
}

// Three Functions on one pool, each woken at 0 s and again at 40 s (scaled to zero in between).
TEST(SharedPoolTest, AFixedPoolOfOneServesOneWakeOfEachWave) {
  Trace t = trace(withIdleTail({10}, 40), 10, 1);
  t.arrivals.push_back(10);
  t.arrivals.resize(60, 0);
  t.warmPool = 1;
  SharedPoolRun run;
  run.functions = 3;
  run.sizing = PoolSizing::kFixed;
  SharedPoolResult r = simulateSharedPool(t, function(1), run);
  EXPECT_EQ(r.starts, 6);
  EXPECT_EQ(r.startsWarm, 2);
  EXPECT_EQ(r.poolSizeMax, 1);
  EXPECT_NEAR(r.warmPoolReplicaSeconds, r.durationSeconds, 1e-9);  // one pod all along
}

TEST(SharedPoolTest, ADemandSizedPoolLearnsTheWaveAndServesTheNextOneWarm) {
  Trace t = trace(withIdleTail({10}, 40), 10, 1);
  t.arrivals.push_back(10);
  t.arrivals.resize(60, 0);
  SharedPoolRun run;
  run.functions = 3;
  run.sizing = PoolSizing::kDemand;
  run.demand.windowSeconds = 60;
  run.demand.podStartSeconds = 1;
  run.demand.ceiling = 8;
  SharedPoolResult r = simulateSharedPool(t, function(1), run);
  // The first wave finds the pool at its floor (0): 3 cold starts within one pod start, so 3 pods.
  EXPECT_EQ(r.starts, 6);
  EXPECT_EQ(r.startsWarm, 3);
  EXPECT_EQ(r.poolSizeMax, 3);
  // Sized at 0 until the first wave, then 3 pods (starting or ready) to the end: the window outlasts the run.
  EXPECT_GT(r.warmPoolReplicaSeconds, 3 * (r.durationSeconds - 1) - 1e-9);
  EXPECT_LT(r.warmPoolReplicaSeconds, 3 * r.durationSeconds + 1e-9);
}

}  // namespace
}  // namespace sluice::simulator
