// The decision engine on a fake clock: HPA's per-metric rules, tolerance,
// stabilization and rate rules; activation at zero; burst mode; cooldown only
// from one replica; fallback on scaler errors; pause; warm pool.
#include "autoscaler/decision_engine.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::autoscaler {
namespace {

using namespace std::chrono_literals;

MetricObservation backlog(double value, double target = 10, double activation = 0) {
  MetricObservation m;
  m.name = "kafka/orders";
  m.target = target;
  m.activationThreshold = activation;
  m.value = value;
  return m;
}

MetricObservation cpu(double percent, double target = 50) {
  MetricObservation m;
  m.name = "cpu";
  m.targetType = MetricTargetType::kUtilization;
  m.target = target;
  m.value = percent;
  return m;
}

MetricObservation failing(const std::string& name = "kafka/orders") {
  MetricObservation m;
  m.name = name;
  m.target = 10;
  m.error = "broker unreachable";
  return m;
}

// HPA alone: no burst mode, so the HPA examples hold exactly.
ScalingPolicy hpaPolicy() {
  ScalingPolicy p;
  p.burst.enabled = false;
  return p;
}

struct PerMetricCase {
  double value;
  double target;
  int expected;
};

TEST(DecisionEngineTest, PerMetricDesiredIsCeilOfValueOverTarget) {
  const PerMetricCase cases[] = {{0, 10, 0},  {1, 10, 1},    {10, 10, 1},  {11, 10, 2},
                                 {30, 10, 3}, {0.3, 0.1, 3}, {99, 100, 1}, {1e12, 1, 1'000'000}};
  for (const auto& c : cases) {
    testing::FakeClock clock;
    ScalingPolicy policy = hpaPolicy();
    policy.maxReplicas = 2'000'000;
    DecisionEngine engine(policy, clock);
    ScaleDecision d = engine.decide(5, {backlog(c.value, c.target)});
    EXPECT_EQ(d.recommendedReplicas, c.expected) << c.value << "/" << c.target;
    ASSERT_EQ(d.metrics.size(), 1u);
    EXPECT_EQ(d.metrics[0].desiredReplicas, c.expected);
  }
}

struct CpuCase {
  int current;
  double usage;
  int expected;
};

TEST(DecisionEngineTest, CpuUtilizationUsesHpaTenPercentTolerance) {
  // target 50%: 45..55 keeps the count; outside it ceil(current * usage / target).
  const CpuCase cases[] = {{4, 50, 4}, {4, 55, 4}, {4, 45, 4},  {4, 56, 5}, {4, 100, 8},
                           {4, 40, 4}, {4, 30, 3}, {10, 20, 4}, {0, 90, 0}};
  for (const auto& c : cases) {
    testing::FakeClock clock;
    DecisionEngine engine(hpaPolicy(), clock);
    ScaleDecision d = engine.decide(c.current, {cpu(c.usage)});
    EXPECT_EQ(d.metrics[0].desiredReplicas, c.expected) << c.current << " replicas at " << c.usage << "%";
  }
}

TEST(DecisionEngineTest, FunctionDesiredIsMaxOverMetricsClampedToMax) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.maxReplicas = 6;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(2, {backlog(25), cpu(50), backlog(31, 10)});
  EXPECT_EQ(d.recommendedReplicas, 4);
  EXPECT_EQ(d.desiredReplicas, 4);
  clock.advance(15s);
  d = engine.decide(4, {backlog(250)});
  EXPECT_EQ(d.desiredReplicas, 6);
  EXPECT_EQ(d.reason, "Metrics");
}

TEST(DecisionEngineTest, MinReplicasIsAFloorAndStartsFromZero) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.minReplicas = 2;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(0, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.reason, "MinReplicas");
  clock.advance(15s);
  d = engine.decide(2, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 2);
}

TEST(DecisionEngineTest, ScaleDownWaitsForTheHpaDefaultWindowOf300Seconds) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  EXPECT_EQ(engine.decide(10, {backlog(100)}).desiredReplicas, 10);
  // The work drops to 2 replicas' worth; every 15 s the window still remembers 10.
  for (int t = 15; t < 300; t += 15) {
    clock.advance(15s);
    ScaleDecision d = engine.decide(10, {backlog(15)});
    ASSERT_EQ(d.desiredReplicas, 10) << "at t=" << t;
    EXPECT_EQ(d.reason, "Stabilizing");
  }
  clock.advance(15s);  // t = 300: the recommendation of t = 0 left the window
  ScaleDecision d = engine.decide(10, {backlog(15)});
  EXPECT_EQ(d.desiredReplicas, 2);  // 100% per 15 s allows the whole step
  EXPECT_EQ(d.direction, ScaleDirection::kDown);
  EXPECT_EQ(d.reason, "Metrics");
}

TEST(DecisionEngineTest, ScaleDownWindowTakesTheHighestRecentRecommendation) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown.stabilizationWindowSeconds = 60;
  DecisionEngine engine(policy, clock);
  engine.decide(8, {backlog(80)});  // t=0: 8
  clock.advance(20s);
  engine.decide(8, {backlog(60)});  // t=20: 6
  clock.advance(20s);
  EXPECT_EQ(engine.decide(8, {backlog(30)}).desiredReplicas, 8);  // t=40: max(8,6,3)
  clock.advance(30s);
  EXPECT_EQ(engine.decide(8, {backlog(30)}).desiredReplicas, 6);  // t=70: max(6,3,3)
  clock.advance(20s);
  EXPECT_EQ(engine.decide(6, {backlog(30)}).desiredReplicas, 3);  // t=90: max(3,3,3)
}

TEST(DecisionEngineTest, ScaleUpDefaultAllowsDoublingOrFourPodsPer15Seconds) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  ScaleDecision d = engine.decide(2, {backlog(200)});
  EXPECT_EQ(d.desiredReplicas, 6);  // max(2*2, 2+4)
  EXPECT_NE(d.message.find("limited by scale-up rules"), std::string::npos) << d.message;
  clock.advance(5s);
  d = engine.decide(6, {backlog(200)});
  EXPECT_EQ(d.desiredReplicas, 6);  // the period began at 2 replicas: still max(4, 6)
  EXPECT_EQ(d.reason, "RateLimited");
  clock.advance(10s);
  d = engine.decide(6, {backlog(200)});
  EXPECT_EQ(d.desiredReplicas, 12);  // new period from 6: max(12, 10)
  clock.advance(15s);
  d = engine.decide(12, {backlog(200)});
  EXPECT_EQ(d.desiredReplicas, 20);
}

TEST(DecisionEngineTest, CustomScaleDownRuleOfOnePodPerMinute) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown = {0, {{ScalingRule::Type::kPods, 1, 60}}, SelectPolicy::kMax};
  DecisionEngine engine(policy, clock);
  EXPECT_EQ(engine.decide(5, {backlog(10)}).desiredReplicas, 4);
  clock.advance(30s);
  ScaleDecision d = engine.decide(4, {backlog(10)});
  EXPECT_EQ(d.desiredReplicas, 4);
  EXPECT_EQ(d.reason, "RateLimited");
  clock.advance(30s);
  EXPECT_EQ(engine.decide(4, {backlog(10)}).desiredReplicas, 3);
}

TEST(DecisionEngineTest, DisabledScaleUpNeverAddsReplicasAboveZero) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleUp.selectPolicy = SelectPolicy::kDisabled;
  DecisionEngine engine(policy, clock);
  EXPECT_EQ(engine.decide(3, {backlog(100)}).desiredReplicas, 3);
}

TEST(DecisionEngineTest, IdleAtZeroChecksAgainWithinASecond) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  ScaleDecision d = engine.decide(0, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 0);
  EXPECT_EQ(d.reason, "Idle");
  EXPECT_LE(d.nextCheckAfter, 1s);
  EXPECT_EQ(d.nextCheckAfter, 500ms);
}

TEST(DecisionEngineTest, FirstMessageActivatesOneReplicaAtOnce) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  ScaleDecision d = engine.decide(0, {backlog(1)});
  EXPECT_EQ(d.desiredReplicas, 1);
  EXPECT_EQ(d.direction, ScaleDirection::kUp);
  EXPECT_EQ(d.reason, "Activation");
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.nextCheckAfter, 15s);  // above zero: pollingIntervalSeconds
}

TEST(DecisionEngineTest, ActivationThresholdMustBeExceeded) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  EXPECT_EQ(engine.decide(0, {backlog(5, 10, 5)}).desiredReplicas, 0);
  EXPECT_EQ(engine.decide(0, {backlog(6, 10, 5)}).desiredReplicas, 1);
}

TEST(DecisionEngineTest, CpuAloneNeverActivatesFromZero) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  EXPECT_EQ(engine.decide(0, {cpu(90)}).desiredReplicas, 0);
}

TEST(DecisionEngineTest, BigBacklogAtZeroFollowsScaleUpRulesWithoutBurst) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  ScaleDecision d = engine.decide(0, {backlog(100)});
  EXPECT_EQ(d.recommendedReplicas, 10);
  EXPECT_EQ(d.desiredReplicas, 4);  // from zero: max(0 * 2, 0 + 4)
  EXPECT_EQ(d.reason, "Activation");
}

TEST(DecisionEngineTest, BurstAtZeroJumpsToWhatTheSpikeNeeds) {
  testing::FakeClock clock;
  DecisionEngine engine(ScalingPolicy{}, clock);
  ScaleDecision d = engine.decide(0, {backlog(100)});
  EXPECT_EQ(d.desiredReplicas, 10);
  EXPECT_EQ(d.reason, "Burst");
  EXPECT_TRUE(d.burst);
}

TEST(DecisionEngineTest, BurstSkipsScaleUpRulesAndNeverScalesDownWhileItLasts) {
  testing::FakeClock clock;
  ScalingPolicy policy;  // burst on by default: window 6 s, threshold 200%, hold 60 s
  policy.scaleDown.stabilizationWindowSeconds = 0;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(2, {backlog(150)});
  EXPECT_EQ(d.desiredReplicas, 15);  // the up rules alone would allow 6
  EXPECT_EQ(d.reason, "Burst");
  EXPECT_EQ(d.nextCheckAfter, 6s);
  int current = d.desiredReplicas;
  for (int t = 6; t < 60; t += 6) {
    clock.advance(6s);
    d = engine.decide(current, {backlog(t % 12 == 0 ? 0 : 20)});
    ASSERT_GE(d.desiredReplicas, current) << "scaled down during burst at t=" << t;
    EXPECT_EQ(d.reason, "BurstHold");
    EXPECT_TRUE(d.burst);
  }
  clock.advance(6s);  // t = 60: the burst is over
  d = engine.decide(current, {backlog(20)});
  EXPECT_FALSE(d.burst);
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.direction, ScaleDirection::kDown);
}

TEST(DecisionEngineTest, ASmallRiseIsNotABurst) {
  testing::FakeClock clock;
  DecisionEngine engine(ScalingPolicy{}, clock);
  ScaleDecision d = engine.decide(10, {backlog(150)});
  EXPECT_EQ(d.desiredReplicas, 15);
  EXPECT_EQ(d.reason, "Metrics");
  EXPECT_FALSE(d.burst);
}

TEST(DecisionEngineTest, ScaleDownFromManyStopsAtOneThenCooldownTakesItToZero) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown.stabilizationWindowSeconds = 0;
  policy.cooldownSeconds = 300;
  DecisionEngine engine(policy, clock);
  EXPECT_EQ(engine.decide(5, {backlog(50)}).desiredReplicas, 5);  // t=0: last activity
  clock.advance(15s);
  ScaleDecision d = engine.decide(5, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 1);  // N -> 1, never N -> 0
  EXPECT_EQ(d.reason, "Metrics");
  for (int t = 30; t < 300; t += 15) {
    clock.advance(15s);
    ASSERT_EQ(engine.decide(1, {backlog(0)}).desiredReplicas, 1) << "at t=" << t;
  }
  clock.advance(15s);  // t=300
  d = engine.decide(1, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 0);
  EXPECT_EQ(d.reason, "CooldownElapsed");
  EXPECT_EQ(d.direction, ScaleDirection::kDown);
  EXPECT_EQ(d.nextCheckAfter, 500ms);
}

TEST(DecisionEngineTest, ManyIdleReplicasAfterCooldownStillGoToOneFirst) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown.stabilizationWindowSeconds = 0;
  policy.cooldownSeconds = 60;
  DecisionEngine engine(policy, clock);
  clock.advance(600s);
  ScaleDecision d = engine.decide(3, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 1);
  clock.advance(15s);
  EXPECT_EQ(engine.decide(1, {backlog(0)}).desiredReplicas, 0);
}

TEST(DecisionEngineTest, ActivityResetsTheCooldown) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.cooldownSeconds = 60;
  DecisionEngine engine(policy, clock);
  clock.advance(50s);
  engine.decide(1, {backlog(3)});  // activity at t=50
  clock.advance(50s);
  EXPECT_EQ(engine.decide(1, {backlog(0)}).desiredReplicas, 1);  // 50 s idle
  clock.advance(10s);
  EXPECT_EQ(engine.decide(1, {backlog(0)}).desiredReplicas, 0);  // 60 s idle
}

TEST(DecisionEngineTest, ErrorsBelowThresholdHoldTheCountAndFallbackTakesOver) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown.stabilizationWindowSeconds = 0;
  policy.fallback = FallbackPolicy{3, 2};
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(5, {failing()});
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_EQ(d.reason, "ScalerError");
  EXPECT_EQ(d.metrics[0].consecutiveFailures, 1);
  clock.advance(15s);
  EXPECT_EQ(engine.decide(5, {failing()}).desiredReplicas, 5);
  clock.advance(15s);
  d = engine.decide(5, {failing()});
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.reason, "Fallback");
  EXPECT_TRUE(d.fallback);
  clock.advance(15s);
  d = engine.decide(2, {backlog(70)});  // the scaler answers again
  EXPECT_EQ(d.metrics[0].consecutiveFailures, 0);
  EXPECT_FALSE(d.fallback);
  EXPECT_EQ(d.desiredReplicas, 6);  // wants 7; the up rules from 2 allow max(4, 6)
}

TEST(DecisionEngineTest, AFailingScalerNeverScalesToZero) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.cooldownSeconds = 30;
  DecisionEngine engine(policy, clock);
  for (int i = 0; i < 100; ++i) {
    clock.advance(15s);
    ScaleDecision d = engine.decide(1, {failing()});
    ASSERT_EQ(d.desiredReplicas, 1) << "round " << i;
  }
  // With a fallback configured the same holds: fallback replicas are >= 1.
  policy.fallback = FallbackPolicy{2, 1};
  engine.setPolicy(policy);
  for (int i = 0; i < 10; ++i) {
    clock.advance(15s);
    ASSERT_EQ(engine.decide(1, {failing()}).desiredReplicas, 1);
  }
}

TEST(DecisionEngineTest, FallbackAtZeroStartsTheFallbackReplicas) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.fallback = FallbackPolicy{2, 3};
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(0, {failing()});
  EXPECT_EQ(d.desiredReplicas, 0);
  EXPECT_EQ(d.reason, "ScalerError");
  d = engine.decide(0, {failing()});
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, "Fallback");
}

TEST(DecisionEngineTest, OneFailingScalerDoesNotHideAnotherOnesWork) {
  testing::FakeClock clock;
  DecisionEngine engine(hpaPolicy(), clock);
  ScaleDecision d = engine.decide(2, {failing("rabbitmq/jobs"), backlog(40)});
  EXPECT_EQ(d.desiredReplicas, 4);
  EXPECT_EQ(d.metrics[0].error, "broker unreachable");
}

TEST(DecisionEngineTest, PinnedReplicasOverrideMetrics) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.pause.pinnedReplicas = 3;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(0, {backlog(1000)});
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, "Pinned");
  d = engine.decide(7, {backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 3);
  policy.pause.pinnedReplicas = 0;
  engine.setPolicy(policy);
  EXPECT_EQ(engine.decide(3, {backlog(1000)}).desiredReplicas, 0);
}

TEST(DecisionEngineTest, PausedHoldsTheCurrentCount) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.pause.paused = true;
  DecisionEngine engine(policy, clock);
  EXPECT_EQ(engine.decide(4, {backlog(1000)}).desiredReplicas, 4);
  EXPECT_EQ(engine.decide(0, {backlog(1000)}).desiredReplicas, 0);
  EXPECT_EQ(engine.decide(4, {backlog(1000)}).reason, "Paused");
}

TEST(DecisionEngineTest, PausedScaleInAndScaleOutBlockOneDirection) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.scaleDown.stabilizationWindowSeconds = 0;
  policy.pause.pausedScaleIn = true;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(6, {backlog(10)});
  EXPECT_EQ(d.desiredReplicas, 6);
  EXPECT_EQ(d.reason, "PausedScaleIn");
  EXPECT_EQ(engine.decide(6, {backlog(70)}).desiredReplicas, 7);

  policy.pause = {};
  policy.pause.pausedScaleOut = true;
  engine.setPolicy(policy);
  d = engine.decide(6, {backlog(200)});
  EXPECT_EQ(d.desiredReplicas, 6);
  EXPECT_EQ(d.reason, "PausedScaleOut");
  EXPECT_EQ(engine.decide(0, {backlog(200)}).desiredReplicas, 0);
  EXPECT_EQ(engine.decide(6, {backlog(10)}).desiredReplicas, 1);
}

TEST(DecisionEngineTest, CronFloorActivatesAndCountsAsActivity) {
  testing::FakeClock clock;
  ScalingPolicy policy = hpaPolicy();
  policy.cooldownSeconds = 0;
  DecisionEngine engine(policy, clock);
  MetricObservation window;
  window.name = "cron/nightly";
  window.value = 0;
  window.minReplicas = 2;
  ScaleDecision d = engine.decide(0, {window, backlog(0)});
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.reason, "Activation");
  clock.advance(15s);
  EXPECT_EQ(engine.decide(1, {window}).desiredReplicas, 2);
}

TEST(DecisionEngineTest, WarmPoolIsPartOfTheTargetAndPollingFollowsBurstWindow) {
  testing::FakeClock clock;
  ScalingPolicy policy;
  policy.warmPool = 2;
  policy.pollingIntervalSeconds = 30;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(0, {backlog(0)});
  EXPECT_EQ(d.warmPoolReplicas, 2);
  d = engine.decide(1, {backlog(5)});
  EXPECT_EQ(d.nextCheckAfter, 6s);
  policy.burst.enabled = false;
  engine.setPolicy(policy);
  EXPECT_EQ(engine.decide(1, {backlog(5)}).nextCheckAfter, 30s);
}

TEST(DecisionEngineTest, SameInputsOnTheSameClockGiveTheSameDecisions) {
  auto run = [] {
    testing::FakeClock clock;
    DecisionEngine engine(ScalingPolicy{}, clock);
    std::vector<int> out;
    int current = 0;
    for (int t = 0; t < 400; ++t) {
      clock.advance(1s);
      double value = (t / 37) % 3 == 0 ? 0 : (t % 50) * 3.0;
      current = engine.decide(current, {backlog(value)}).desiredReplicas;
      out.push_back(current);
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

struct BadPolicyCase {
  ScalingPolicy policy;
  std::string message;
};

// An http metric (concurrency or requests per second), averaged as Knative's KPA.
MetricObservation requests(double value, double target = 10) {
  MetricObservation m = backlog(value, target);
  m.name = "http/shop/checkout";
  m.windowed = true;
  return m;
}

// The tests read every 6 s: the burst window, the engine's own check interval.
ScalingPolicy kpaPolicy() {
  ScalingPolicy p;  // burst: panic window 6 s, stable window 60 s, threshold 200%, hold 60 s
  p.scaleDown.stabilizationWindowSeconds = 0;
  return p;
}

TEST(DecisionEngineWindowsTest, AStepIsFollowedOnceTheStableWindowMeanAsksForIt) {
  testing::FakeClock clock;
  DecisionEngine engine(kpaPolicy(), clock);
  ScaleDecision d;
  for (int t = 0; t <= 60; t += 6) {
    d = engine.decide(2, {requests(15)});
    ASSERT_EQ(d.desiredReplicas, 2) << "steady 15 at target 10, t=" << t;
    clock.advance(6s);
  }
  // Step to 25 (3 replicas' worth, below the 2x panic threshold of 4): the
  // 60 s mean passes 20 only when 36 s of the window are at 25 — the sixth
  // reading of 25 (each reading stands for the 6 s before it).
  for (int after = 0; after < 30; after += 6) {
    d = engine.decide(2, {requests(25)});
    ASSERT_EQ(d.desiredReplicas, 2) << after << " s after the step: mean " << *d.metrics[0].stableAverage;
    EXPECT_FALSE(d.burst);
    EXPECT_EQ(*d.metrics[0].panicAverage, 25);
    clock.advance(6s);
  }
  d = engine.decide(2, {requests(25)});
  EXPECT_DOUBLE_EQ(*d.metrics[0].stableAverage, 21);  // (15 * 24 + 25 * 36) / 60
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, "Metrics");
  EXPECT_FALSE(d.burst);
}

TEST(DecisionEngineWindowsTest, ABurstPanicsOnTheShortWindowAndNeverScalesDownWhileItLasts) {
  testing::FakeClock clock;
  DecisionEngine engine(kpaPolicy(), clock);
  for (int t = 0; t <= 60; t += 6) {
    ASSERT_EQ(engine.decide(2, {requests(20)}).desiredReplicas, 2);
    clock.advance(6s);
  }
  // 100 for one panic window: 10 replicas' worth >= 2 x 2 -> panic, 10 at once
  // (the stable mean, 28, would ask for 3; the up rules alone would allow 6).
  ScaleDecision d = engine.decide(2, {requests(100)});
  EXPECT_EQ(d.reason, "Burst");
  EXPECT_TRUE(d.burst);
  EXPECT_EQ(d.desiredReplicas, 10);
  EXPECT_DOUBLE_EQ(*d.metrics[0].stableAverage, 28);
  EXPECT_NE(d.message.find("the panic window asks for 10"), std::string::npos) << d.message;
  int current = d.desiredReplicas;
  // The spike is over at once, but for the 60 s hold the count never drops.
  for (int after = 6; after < 60; after += 6) {
    clock.advance(6s);
    d = engine.decide(current, {requests(10)});
    ASSERT_EQ(d.desiredReplicas, current) << after << " s after the spike";
    EXPECT_EQ(d.reason, "BurstHold");
    EXPECT_TRUE(d.burst);
  }
  // Hold over: the stable mean (mostly 10 now, 100 for 6 s of 60) asks for 2.
  clock.advance(6s);
  d = engine.decide(current, {requests(10)});
  EXPECT_FALSE(d.burst);
  EXPECT_DOUBLE_EQ(*d.metrics[0].stableAverage, 10);  // the spike's 6 s just left the window
  EXPECT_EQ(d.desiredReplicas, 1);
  EXPECT_EQ(d.direction, ScaleDirection::kDown);
}

TEST(DecisionEngineWindowsTest, IdleGoesToZeroAndWakesOnTheReadingNotTheIdleMean) {
  testing::FakeClock clock;
  ScalingPolicy policy = kpaPolicy();
  policy.cooldownSeconds = 30;
  DecisionEngine engine(policy, clock);
  ScaleDecision d = engine.decide(1, {requests(0)});
  for (int t = 0; t < 30; t += 6) {
    EXPECT_EQ(d.desiredReplicas, 1);
    clock.advance(6s);
    d = engine.decide(1, {requests(0)});
  }
  EXPECT_EQ(d.desiredReplicas, 0);
  EXPECT_EQ(d.reason, "CooldownElapsed");
  // At zero the engine looks every 500 ms; 50 s of idle readings are in its window.
  for (int i = 0; i < 100; ++i) {
    clock.advance(500ms);
    ASSERT_EQ(engine.decide(0, {requests(0)}).desiredReplicas, 0);
  }
  clock.advance(500ms);
  d = engine.decide(0, {requests(30)});
  EXPECT_EQ(d.desiredReplicas, 3) << "the idle mean (" << *d.metrics[0].stableAverage << ") must not dilute a wake-up";
  EXPECT_TRUE(d.active);
}

TEST(DecisionEngineWindowsTest, UnwindowedMetricsKeepTheirReadingAsIs) {
  testing::FakeClock clock;
  DecisionEngine engine(kpaPolicy(), clock);
  engine.decide(2, {backlog(20)});
  clock.advance(6s);
  ScaleDecision d = engine.decide(2, {backlog(30)});
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_FALSE(d.metrics[0].stableAverage.has_value());
}

TEST(ScalingPolicyTest, ValidationNamesTheFieldAndValue) {
  std::vector<BadPolicyCase> cases;
  auto add = [&](auto edit, std::string message) {
    ScalingPolicy p;
    edit(p);
    cases.push_back({p, std::move(message)});
  };
  add([](ScalingPolicy& p) { p.minReplicas = -1; }, "scaling.minReplicas: -1 is negative");
  add([](ScalingPolicy& p) { p.minReplicas = 3, p.maxReplicas = 2; }, "scaling.maxReplicas: 2 is below minReplicas 3");
  add([](ScalingPolicy& p) { p.pollingIntervalSeconds = 0; }, "scaling.pollingIntervalSeconds: 0 must be at least 1");
  add([](ScalingPolicy& p) { p.activationIntervalMilliseconds = 5000; },
      "scaling.activationIntervalMilliseconds: 5000 is outside 10..1000");
  add([](ScalingPolicy& p) { p.scaleDown.policies[0].value = 0; },
      "scaling.behavior.scaleDown.policies[0].value: 0 must be positive");
  add(
      [](ScalingPolicy& p) {
        p.fallback = FallbackPolicy{3, 0};
      },
      "scaling.fallback.replicas: 0 must be at least 1 (a failing scaler never scales to zero)");
  add([](ScalingPolicy& p) { p.burst.thresholdPercent = 100; }, "scaling.burst.thresholdPercent: 100 must exceed 100");
  add([](ScalingPolicy& p) { p.burst.stableWindowSeconds = 5; },
      "scaling.burst.stableWindowSeconds: 5 is shorter than burst.windowSeconds 6");
  add([](ScalingPolicy& p) { p.warmPool = -2; }, "scaling.warmPool: -2 is negative");
  for (const auto& c : cases) {
    Status s = validateScalingPolicy(c.policy);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), c.message);
  }
  EXPECT_TRUE(validateScalingPolicy(ScalingPolicy{}).isOk());
}

}  // namespace
}  // namespace sluice::autoscaler
