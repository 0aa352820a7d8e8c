// The rate estimator on synthetic counters: steady work, a restarted replica,
// a counter reset, a replica joining mid-window, idle replicas, a change of
// the replicas behind a consumer group, arrivals, and measure()'s saturation test.
#include "autoscaler/rate_estimator.h"

#include <gtest/gtest.h>

namespace sluice::autoscaler {
namespace {

using namespace std::chrono_literals;

Clock::TimePoint at(double seconds) {
  return Clock::TimePoint{} + std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(seconds));
}

TEST(RateEstimatorTest, NothingIsKnownBeforeTwoReadings) {
  RateEstimator estimator;
  estimator.observeProcessed("pod-a", 100, 1, true, at(0));
  estimator.observeArrived(100, at(0));
  EXPECT_FALSE(estimator.perReplicaRate());
  EXPECT_FALSE(estimator.arrivalRate());
  EXPECT_FALSE(estimator.coldStartSeconds());
}

TEST(RateEstimatorTest, GroupCounterDividesByTheReplicasThatWorked) {
  RateEstimator estimator;
  // Two replicas commit 400 events every 2 s: 100 events/s each.
  for (int i = 0; i <= 5; ++i) estimator.observeProcessed("group", 400.0 * i, 2, true, at(2.0 * i));
  ASSERT_TRUE(estimator.perReplicaRate());
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
}

TEST(RateEstimatorTest, RestartedReplicaGivesNoSampleForTheIntervalOfTheRestart) {
  RateEstimator estimator;
  estimator.observeProcessed("pod-a", 0, 1, true, at(0));
  estimator.observeProcessed("pod-a", 100, 1, true, at(1));
  // The replica restarted: its counter starts again at 10. The drop is no negative rate.
  estimator.observeProcessed("pod-a", 10, 1, true, at(2));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  estimator.observeProcessed("pod-a", 110, 1, true, at(3));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
}

TEST(RateEstimatorTest, CounterResetToZeroIsANewBaseline) {
  RateEstimator estimator;
  estimator.observeProcessed("group", 1'000'000, 1, true, at(0));
  estimator.observeProcessed("group", 1'000'050, 1, true, at(1));
  estimator.observeProcessed("group", 0, 1, true, at(2));  // topic recreated
  estimator.observeProcessed("group", 50, 1, true, at(3));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 50);
}

TEST(RateEstimatorTest, ReplicaJoiningMidWindowCountsFromItsSecondReading) {
  RateEstimator estimator;
  for (int i = 0; i <= 4; ++i) estimator.observeProcessed("pod-a", 100.0 * i, 1, true, at(i));
  // pod-b joins at t=2 with a counter from its earlier life: its first reading is only a baseline.
  estimator.observeProcessed("pod-b", 5000, 1, true, at(2.5));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  // Then it works at 200/s for 1 s; the pooled rate weighs by replica-seconds: (400 + 200) / (4 + 1).
  estimator.observeProcessed("pod-b", 5200, 1, true, at(3.5));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 120);
}

TEST(RateEstimatorTest, ChangeOfReplicasBehindTheGroupStartsANewInterval) {
  RateEstimator estimator;
  estimator.observeProcessed("group", 0, 2, true, at(0));
  estimator.observeProcessed("group", 200, 2, true, at(1));  // 100/s each
  // Two more replicas joined somewhere in this interval: who did the 600 events is unknown.
  estimator.observeProcessed("group", 800, 4, true, at(2));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  estimator.observeProcessed("group", 1200, 4, true, at(3));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
}

TEST(RateEstimatorTest, IdleReplicasDoNotReadAsSlowOnesButFasterOnesRaiseTheEstimate) {
  RateEstimator estimator;
  estimator.observeProcessed("group", 0, 1, true, at(0));
  estimator.observeProcessed("group", 100, 1, true, at(1));
  // Little work arrives: 20/s processed, nothing waiting. Not capacity.
  estimator.observeProcessed("group", 120, 1, false, at(2));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  // 300/s without saturation: a replica never works faster than it can.
  estimator.observeProcessed("group", 420, 1, false, at(3));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 200);  // (100 + 300) / 2 replica-seconds
}

TEST(RateEstimatorTest, UnsaturatedIntervalsAloneMeasureNothing) {
  RateEstimator estimator;
  for (int i = 0; i <= 3; ++i) estimator.observeProcessed("group", 20.0 * i, 3, false, at(i));
  EXPECT_FALSE(estimator.perReplicaRate());
}

TEST(RateEstimatorTest, BusyTimeMeasuresCapacityWithoutSaturationAndSurvivesARestart) {
  RateEstimator estimator;
  // A replica given 5 events/s: its handler ran 0.5 s of every 10 s for 50 events, so it can do 100/s.
  estimator.observeBusy("pod-a", 0, 0, at(0));
  estimator.observeBusy("pod-a", 50, 0.5, at(10));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  // Restarted: both counters start again; no sample from the interval of the restart.
  estimator.observeBusy("pod-a", 20, 0.1, at(20));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
  estimator.observeBusy("pod-a", 120, 0.6, at(30));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 150);  // (50 + 100) / (0.5 + 0.5) busy seconds
  // An idle interval (no busy time) is no sample either.
  estimator.observeBusy("pod-a", 120, 0.6, at(40));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 150);
}

TEST(RateEstimatorTest, SaturatedThroughputCapsTheBusyTimeRate) {
  RateEstimator estimator;
  // The handler takes 1 ms an event, but fetching and committing hold each replica to 100/s.
  estimator.observeBusy("replicas", 0, 0, at(0));
  estimator.observeBusy("replicas", 2000, 2, at(10));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 1000);
  estimator.observeProcessed("group", 0, 2, true, at(0));
  estimator.observeProcessed("group", 2000, 2, true, at(10));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 100);
}

TEST(RateEstimatorTest, OldIntervalsLeaveTheWindowAndTheLastEstimateOutlivesIdleness) {
  RateEstimatorOptions options;
  options.processingWindowSeconds = 60;
  RateEstimator estimator(options);
  double total = 0;
  for (int t = 0; t <= 100; t += 10) {
    estimator.observeProcessed("group", total, 1, true, at(t));
    total += 1000;  // 100/s
  }
  for (int t = 110; t <= 200; t += 10) {
    estimator.observeProcessed("group", total, 1, true, at(t));
    total += 500;  // 50/s: the handler got slower
  }
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 50);
  // Hours without work: the capacity stays known.
  estimator.observeProcessed("group", total, 1, false, at(5000));
  EXPECT_DOUBLE_EQ(*estimator.perReplicaRate(), 50);
}

TEST(RateEstimatorTest, ArrivalRateOverItsWindowAndAfterATopicReset) {
  RateEstimatorOptions options;
  options.arrivalWindowSeconds = 10;
  RateEstimator estimator(options);
  estimator.observeArrived(0, at(0));
  estimator.observeArrived(1000, at(5));
  EXPECT_DOUBLE_EQ(*estimator.arrivalRate(), 200);
  estimator.observeArrived(1500, at(10));
  EXPECT_DOUBLE_EQ(*estimator.arrivalRate(), 150);
  estimator.observeArrived(1500, at(20));  // the 5..10 s interval left the window
  EXPECT_DOUBLE_EQ(*estimator.arrivalRate(), 0);
  estimator.observeArrived(3, at(25));  // recreated topic: a new baseline, no sample
  EXPECT_DOUBLE_EQ(*estimator.arrivalRate(), 0);
  estimator.observeArrived(303, at(30));
  // The 10..20 s interval ended at the window's start: only 25..30 s, 300 events in 5 s.
  EXPECT_DOUBLE_EQ(*estimator.arrivalRate(), 60);
}

TEST(RateEstimatorTest, ColdStartIsTheMeanOfTheLastSamples) {
  RateEstimatorOptions options;
  options.coldStartSamples = 2;
  RateEstimator estimator(options);
  estimator.observeColdStart(30);
  estimator.observeColdStart(4);
  estimator.observeColdStart(6);
  EXPECT_DOUBLE_EQ(*estimator.coldStartSeconds(), 5);
}

MetricObservation kafka(double processed, double arrived, double backlog, int partitions = 0) {
  MetricObservation m;
  m.name = "kafka/orders";
  m.target = 10;
  m.value = backlog;
  m.processedTotal = processed;
  m.arrivedTotal = arrived;
  m.backlog = backlog;
  m.partitions = partitions;
  return m;
}

TEST(RateEstimatorTest, MeasureReadsCapacityOnlyWhileWorkWaits) {
  RateEstimator estimator;
  // 3 replicas keep up with 150/s; the committed offsets trail by a 250 ms commit (~40 events).
  for (int i = 0; i <= 4; ++i) {
    MetricObservation m = kafka(1500.0 * i, 1500.0 * i + 40, 40);
    estimator.measure(m, 3, at(10.0 * i));
    EXPECT_FALSE(m.perReplicaRate) << "round " << i;
    if (i > 0) {
      EXPECT_DOUBLE_EQ(*m.arrivalRate, 150);
    }
  }
  // A burst: 10,000 events a round; the 3 replicas do 300/s each and fall behind.
  double processed = 6000;
  double arrived = 6040;
  for (int i = 5; i <= 7; ++i) {
    arrived += 10000;
    MetricObservation m = kafka(processed, arrived, arrived - processed);
    estimator.measure(m, 3, at(10.0 * i));
    processed += 9000;
  }
  MetricObservation m = kafka(processed, arrived, arrived - processed);
  estimator.measure(m, 3, at(80));
  ASSERT_TRUE(m.perReplicaRate);
  EXPECT_DOUBLE_EQ(*m.perReplicaRate, 300);
}

TEST(RateEstimatorTest, MeasureCountsOnlyReplicasThatHaveAPartition) {
  RateEstimator estimator;
  // 6 replicas, 2 partitions: only 2 consume, 100/s each.
  for (int i = 0; i <= 3; ++i) {
    MetricObservation m = kafka(2000.0 * i, 100000, 100000 - 2000.0 * i, 2);
    estimator.measure(m, 6, at(10.0 * i));
    if (i >= 2) {
      EXPECT_DOUBLE_EQ(*m.perReplicaRate, 100);
    }
  }
}

TEST(RateEstimatorTest, MeasureDividesByTheReplicasThatAnsweredNotTheReadyOnes) {
  RateEstimator estimator;
  // 8 pods Ready, but only the 2 whose runtimes answer /metrics work: 300/s each, far behind.
  double processed = 0;
  for (int i = 0; i <= 3; ++i) {
    MetricObservation m = kafka(processed, 100000, 100000 - processed);
    m.countedReplicas = 2;
    estimator.measure(m, 8, at(10.0 * i));
    processed += 2 * 300 * 10;
  }
  MetricObservation m = kafka(processed, 100000, 100000 - processed);
  m.countedReplicas = 2;
  estimator.measure(m, 8, at(40));
  ASSERT_TRUE(m.perReplicaRate);
  EXPECT_DOUBLE_EQ(*m.perReplicaRate, 300);
}

TEST(RateEstimatorTest, MeasureTakesNoThroughputWhileTheGroupRebalances) {
  RateEstimator estimator;
  // At zero, then 4 replicas ready at t=10: for the next kRebalanceSeconds they rebalance and do 20/s
  // each against a growing backlog, which read as capacity would be 20/s.
  MetricObservation idle = kafka(0, 0, 0);
  estimator.measure(idle, 0, at(0));
  double processed = 0;
  for (double t = 10; t < 10 + kRebalanceSeconds; t += 2) {
    MetricObservation m = kafka(processed, 100000, 100000 - processed);
    estimator.measure(m, 4, at(t));
    EXPECT_FALSE(m.perReplicaRate) << "t=" << t;
    processed += 4 * 20 * 2;
  }
  // Then they work at 300/s each, still behind: that is their capacity.
  for (double t = 10 + kRebalanceSeconds; t <= 40 + kRebalanceSeconds; t += 2) {
    MetricObservation m = kafka(processed, 100000, 100000 - processed);
    estimator.measure(m, 4, at(t));
    processed += 4 * 300 * 2;
  }
  MetricObservation m = kafka(processed, 100000, 100000 - processed);
  estimator.measure(m, 4, at(42 + kRebalanceSeconds));
  ASSERT_TRUE(m.perReplicaRate);
  EXPECT_NEAR(*m.perReplicaRate, 300, 1e-9);
}

}  // namespace
}  // namespace sluice::autoscaler
