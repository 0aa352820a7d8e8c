// The rate policy (ScalingMode::kRate) on a fake clock: the count from measured
// rates and the drain target, the backlog rule until rates are known, step,
// ramp, burst sized to the burst, cold start, short scale-down, no flapping, idle, and the
// settle rules that keep a consumer group's rebalance from driving the count.
#include <gtest/gtest.h>

#include "autoscaler/decision_engine.h"
#include "fakes/fake_clock.h"

namespace sluice::autoscaler {
namespace {

using namespace std::chrono_literals;

MetricObservation measured(double backlog, std::optional<double> arrival, std::optional<double> perReplica,
                           int partitions = 0) {
  MetricObservation m;
  m.name = "kafka/orders";
  m.target = 10;  // KEDA's default lagThreshold
  m.value = backlog;
  m.backlog = backlog;
  m.partitions = partitions;
  m.arrivalRate = arrival;
  m.perReplicaRate = perReplica;
  return m;
}

ScalingPolicy ratePolicy() {
  ScalingPolicy p;
  p.mode = ScalingMode::kRate;
  p.drainTargetSeconds = 30;
  return p;
}

TEST(RatePolicyTest, ArrivalsPlusBacklogOverTheDrainTarget) {
  struct Case {
    double backlog;
    double arrival;
    int expected;
  };
  // 100 events/s per replica, 30 s drain target: ceil(arrival/100 + backlog/3000).
  for (const Case& c :
       {Case{0, 450, 5}, Case{3000, 450, 6}, Case{0, 400, 4}, Case{6000, 0, 2}, Case{1, 0, 1}, Case{0, 0, 0}}) {
    testing::FakeClock clock;
    DecisionEngine engine(ratePolicy(), clock);
    ScaleDecision d = engine.decide(4, {measured(c.backlog, c.arrival, 100)});
    EXPECT_EQ(d.recommendedReplicas, c.expected) << c.backlog << " + " << c.arrival << "/s";
    ASSERT_EQ(d.metrics.size(), 1u);
    EXPECT_TRUE(d.metrics[0].rateRule);
    EXPECT_EQ(d.metrics[0].perReplicaRate, 100);
  }
}

TEST(RatePolicyTest, BacklogRuleUntilARateIsMeasuredAndWhenSelected) {
  testing::FakeClock clock;
  DecisionEngine unmeasured(ratePolicy(), clock);
  ScaleDecision d = unmeasured.decide(4, {measured(60, 450, std::nullopt)});
  EXPECT_EQ(d.recommendedReplicas, 6);  // ceil(60 / 10)
  EXPECT_FALSE(d.metrics[0].rateRule);
  ScalingPolicy backlog = ratePolicy();
  backlog.mode = ScalingMode::kBacklog;
  DecisionEngine selected(backlog, clock);
  d = selected.decide(4, {measured(60, 450, 100)});
  EXPECT_EQ(d.recommendedReplicas, 6);
  EXPECT_FALSE(d.metrics[0].rateRule);
}

TEST(RatePolicyTest, ColdStartBacklogIsCountedIn) {
  testing::FakeClock clock;
  DecisionEngine engine(ratePolicy(), clock);
  MetricObservation m = measured(0, 500, 100);
  m.coldStartSeconds = 10;
  // 2 replicas take 200 of 500/s; for the 10 s of a cold start 3,000 more wait: 5 + 3000/3000.
  EXPECT_EQ(engine.decide(2, {m}).recommendedReplicas, 6);
}

TEST(RatePolicyTest, NeverMoreReplicasThanPartitions) {
  testing::FakeClock clock;
  DecisionEngine engine(ratePolicy(), clock);
  EXPECT_EQ(engine.decide(2, {measured(90000, 2000, 100, 12)}).recommendedReplicas, 12);
}

TEST(RatePolicyTest, StepUpGoesToWhatTheStepNeeds) {
  testing::FakeClock clock;
  ScalingPolicy policy = ratePolicy();
  policy.burst.enabled = false;
  DecisionEngine engine(policy, clock);
  int current = 1;
  for (int round = 0; round < 6; ++round) {
    current = engine.decide(current, {measured(0, 700, 100)}).desiredReplicas;
    clock.advance(15s);
  }
  EXPECT_EQ(current, 7);
}

TEST(RatePolicyTest, RampIsFollowedOneReplicaAtATime) {
  testing::FakeClock clock;
  DecisionEngine engine(ratePolicy(), clock);
  int current = 1;
  for (int arrival = 100; arrival <= 1000; arrival += 50) {
    const int next = engine.decide(current, {measured(0, arrival, 100)}).desiredReplicas;
    EXPECT_GE(next, current) << arrival << "/s: a rising ramp never scales down";
    EXPECT_EQ(next, (arrival + 99) / 100) << arrival << "/s";
    current = next;
    clock.advance(15s);
  }
}

TEST(RatePolicyTest, BurstIsSizedToTheBurstNotToMaxReplicas) {
  testing::FakeClock clock;
  ScalingPolicy policy = ratePolicy();
  policy.maxReplicas = 100;
  DecisionEngine rate(policy, clock);
  // 600/s for a while and 6,000 waiting: 6 + 2 replicas, at once (burst mode).
  ScaleDecision d = rate.decide(2, {measured(6000, 600, 100)});
  EXPECT_EQ(d.desiredReplicas, 8);
  EXPECT_TRUE(d.burst);
  // The backlog rule with KEDA's lag target of 10 asks for 600 and goes to the maximum.
  policy.mode = ScalingMode::kBacklog;
  DecisionEngine backlog(policy, clock);
  EXPECT_EQ(backlog.decide(2, {measured(6000, 600, 100)}).desiredReplicas, 100);
}

TEST(RatePolicyTest, ScalesDownOnceTheDrainAllowsWithAShortWindow) {
  testing::FakeClock clock;
  ScalingPolicy policy = ratePolicy();  // scale-down window 300 s, drain target 30 s
  DecisionEngine engine(policy, clock);
  int current = engine.decide(2, {measured(6000, 600, 100)}).desiredReplicas;
  ASSERT_EQ(current, 8);
  // The burst is over: 100/s, nothing waiting.
  std::vector<int> counts;
  for (int round = 0; round < 4; ++round) {
    clock.advance(15s);
    current = engine.decide(current, {measured(0, 100, 100)}).desiredReplicas;
    counts.push_back(current);
  }
  // Held while burst mode and the 30 s window last, then 1, long before the 300 s window.
  EXPECT_EQ(counts, (std::vector<int>{8, 1, 1, 1}));
}

TEST(RatePolicyTest, ABurstOfTheBacklogRuleEndsOnceTheRatesAreKnown) {
  testing::FakeClock clock;
  ScalingPolicy policy = ratePolicy();
  policy.drainTargetSeconds = 2;
  policy.maxReplicas = 12;
  DecisionEngine engine(policy, clock);
  // Woken with 20,000 waiting and no rate measured yet: KEDA's lag target asks for the most, in burst mode.
  ScaleDecision d = engine.decide(0, {measured(20000, 2000, std::nullopt, 12)});
  ASSERT_EQ(d.desiredReplicas, 12);
  EXPECT_TRUE(d.burst);
  int current = 12;
  std::vector<int> counts;
  for (auto step : {5s, 6s, 5s}) {  // at 5, 11 and 16 s: the backlog is gone, 430/s a replica measured
    clock.advance(step);
    current = engine.decide(current, {measured(0, 2000, 430, 12)}).desiredReplicas;
    counts.push_back(current);
  }
  // ceil(2000 / 430) = 5 once the 10 s after the change are over, not after the backlog rule's 60 s hold.
  EXPECT_EQ(counts, (std::vector<int>{12, 5, 5}));
}

TEST(RatePolicyTest, NoFlappingAroundAnIntegerBoundary) {
  testing::FakeClock clock;
  DecisionEngine engine(ratePolicy(), clock);
  int current = 5;
  int changes = 0;
  for (int round = 0; round < 16; ++round) {
    const double arrival = round % 2 == 0 ? 410 : 390;  // asks for 5, then 4
    const int next = engine.decide(current, {measured(0, arrival, 100)}).desiredReplicas;
    changes += next != current ? 1 : 0;
    current = next;
    clock.advance(10s);
  }
  EXPECT_EQ(changes, 0);
  EXPECT_EQ(current, 5);
}

TEST(RatePolicyTest, IdleScalesToZeroAfterTheCooldown) {
  testing::FakeClock clock;
  ScalingPolicy policy = ratePolicy();
  policy.cooldownSeconds = 60;
  DecisionEngine engine(policy, clock);
  int current = engine.decide(1, {measured(0, 0, 100)}).desiredReplicas;
  EXPECT_EQ(current, 1);  // the engine has not seen 60 s of idleness yet
  clock.advance(61s);
  current = engine.decide(current, {measured(0, 0, 100)}).desiredReplicas;
  EXPECT_EQ(current, 0);
  // Work again: activation, sized by the rates.
  clock.advance(1s);
  EXPECT_EQ(engine.decide(0, {measured(250, 250, 100)}).desiredReplicas, 3);
}

TEST(RatePolicyTest, UnsetCooldownIs60SecondsUnderTheRateRuleAnd300UnderTheBacklogRule) {
  for (ScalingMode mode : {ScalingMode::kRate, ScalingMode::kBacklog}) {
    testing::FakeClock clock;
    ScalingPolicy policy = ratePolicy();
    policy.mode = mode;
    DecisionEngine engine(policy, clock);
    std::vector<int> counts;
    for (auto idle : {0s, 59s, 2s, 238s, 2s}) {  // at 0, 59, 61, 299 and 301 s
      clock.advance(idle);
      counts.push_back(engine.decide(1, {measured(0, 0, 100)}).desiredReplicas);
    }
    const std::vector<int> expected =
        mode == ScalingMode::kRate ? std::vector<int>{1, 1, 0, 0, 0} : std::vector<int>{1, 1, 1, 1, 0};
    EXPECT_EQ(counts, expected) << scalingModeName(mode);
  }
}

TEST(RatePolicyTest, ScaleDownWaitsAtLeastTheMeasuredColdStart) {
  for (std::optional<double> coldStart : {std::optional<double>(), std::optional<double>(9.5)}) {
    testing::FakeClock clock;
    ScalingPolicy policy = ratePolicy();
    policy.drainTargetSeconds = 2;
    policy.burst.enabled = false;
    DecisionEngine engine(policy, clock);
    MetricObservation busy = measured(0, 400, 100);
    MetricObservation quiet = measured(0, 100, 100);
    busy.coldStartSeconds = quiet.coldStartSeconds = coldStart;
    int current = engine.decide(4, {busy}).desiredReplicas;
    ASSERT_EQ(current, 4);
    std::vector<int> counts;
    for (int round = 0; round < 3; ++round) {  // at 5, 9 and 11 s
      clock.advance(round == 1 ? 4s : round == 2 ? 2s : 5s);
      current = engine.decide(current, {quiet}).desiredReplicas;
      counts.push_back(current);
    }
    // Without a measured cold start the 2 s drain target is the window; a replica given back is
    // only worth it if it could be started again (9.5 s, rounded up to 10) before it is missed.
    const std::vector<int> expected = coldStart ? std::vector<int>{4, 4, 1} : std::vector<int>{1, 1, 1};
    EXPECT_EQ(counts, expected);
  }
}

// A steady 400/s at 100/s a replica, the drain target 2 s, no burst mode: only the settle rules act.
ScalingPolicy settlePolicy() {
  ScalingPolicy policy = ratePolicy();
  policy.drainTargetSeconds = 2;
  policy.burst.enabled = false;
  return policy;
}

// One look of the settle tests: `after` the previous one, `backlog` waiting and `arrival` a second
// coming in, at 100/s a replica.
struct Look {
  std::chrono::seconds after;
  double backlog;
  double arrival;
};

// The count after each look, each deciding from the count the one before it chose.
std::vector<int> countsOver(DecisionEngine& engine, testing::FakeClock& clock, int current,
                            const std::vector<Look>& looks) {
  std::vector<int> counts;
  for (const Look& look : looks) {
    clock.advance(look.after);
    current = engine.decide(current, {measured(look.backlog, look.arrival, 100)}).desiredReplicas;
    counts.push_back(current);
  }
  return counts;
}

TEST(RatePolicyTest, BacklogOfTheRebalanceAfterAScaleDownDoesNotScaleUpAgain) {
  testing::FakeClock clock;
  DecisionEngine engine(settlePolicy(), clock);
  // 400/s: 4. The group rebalances: 1,200 records wait 2 s and 42 s later, which would ask for
  // 4 + 1200 / 200 = 10. Still waiting 45 s after, a member's session timeout: capacity is missing,
  // scale up (to 10, of which HPA's scale-up rule allows 4 + 4 at once).
  EXPECT_EQ(countsOver(engine, clock, 8, {{0s, 0, 400}, {2s, 1200, 400}, {40s, 1200, 400}, {3s, 1200, 400}}),
            (std::vector<int>{4, 4, 4, 8}));
}

TEST(RatePolicyTest, TheBacklogCapCarriesOverASecondScaleDown) {
  testing::FakeClock clock;
  DecisionEngine engine(settlePolicy(), clock);
  // 400/s: 4. 11 s on the arrivals fall to 300/s while the rebalance's 1,200 still wait: counted as
  // the 0 of the last change, 3 replicas. The same backlog a second later was not counted at that
  // change, so it does not count now either (counted, 3 + 1200 / 200 = 9: rate_settle_test went
  // 6 -> 5 -> 7 -> 10 -> 12).
  EXPECT_EQ(countsOver(engine, clock, 8, {{0s, 0, 400}, {11s, 1200, 300}, {1s, 1200, 300}}),
            (std::vector<int>{4, 3, 3}));
}

TEST(RatePolicyTest, AScaleUpOnTheArrivalsKeepsTheBacklogCapOfTheScaleDownBefore) {
  testing::FakeClock clock;
  DecisionEngine engine(settlePolicy(), clock);
  // 400/s: 8 -> 4. 11 s on the arrivals reach 410/s: 5 (the arrivals alone). A second later the
  // rebalances of both changes left 1,200 waiting; counted as the 0 of the scale-down, still 5, where
  // the cap ending at the scale-up asked for 5 + 1200 / 200 = 11 (rate_settle_test: 11 -> 5 -> 6 -> 12).
  // Once 45 s have passed since the scale-down, the backlog counts whole again (HPA's rule allows 5 + 5).
  EXPECT_EQ(countsOver(engine, clock, 8, {{0s, 0, 400}, {11s, 0, 410}, {1s, 1200, 410}, {34s, 1200, 410}}),
            (std::vector<int>{4, 5, 5, 10}));
}

TEST(RatePolicyTest, BacklogAfterAScaleUpCountsWhole) {
  testing::FakeClock clock;
  DecisionEngine engine(settlePolicy(), clock);
  int current = engine.decide(2, {measured(0, 400, 100)}).desiredReplicas;
  ASSERT_EQ(current, 4);
  // A ramp: the added replicas were not enough. It asks for 10; HPA's scale-up rule allows 2 + 4
  // within the 15 s period (where after a scale-down the settle rule held 4).
  clock.advance(3s);
  EXPECT_EQ(engine.decide(current, {measured(1200, 400, 100)}).desiredReplicas, 6);
}

TEST(RatePolicyTest, NoScaleDownWithinTenSecondsOfAChange) {
  testing::FakeClock clock;
  DecisionEngine engine(settlePolicy(), clock);
  int current = engine.decide(2, {measured(0, 400, 100)}).desiredReplicas;
  ASSERT_EQ(current, 4);
  std::vector<int> counts;
  for (auto step : {3s, 6s, 2s}) {  // at 3, 9 and 11 s: the arrivals fell to 100/s
    clock.advance(step);
    current = engine.decide(current, {measured(0, 100, 100)}).desiredReplicas;
    counts.push_back(current);
  }
  EXPECT_EQ(counts, (std::vector<int>{4, 4, 1}));
}

TEST(RatePolicyTest, DrainTargetOutsideItsRangeIsRefused) {
  ScalingPolicy policy = ratePolicy();
  policy.drainTargetSeconds = 0;
  EXPECT_EQ(validateScalingPolicy(policy).message(), "scaling.drainTargetSeconds: 0 is outside 1..3600");
}

}  // namespace
}  // namespace sluice::autoscaler
