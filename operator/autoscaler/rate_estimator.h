// RateEstimator: the measured throughput of one Function's trigger, for the
// rate policy (ScalingMode::kRate).
//
// It reads cumulative counters, never rates, so a missed round loses nothing:
//   processed: events done, per source. A source is one replica's own counter
//     (its /metrics, replicas = 1) or a consumer group's committed offsets
//     (replicas = the replicas that worked on it). The per-replica rate is
//     sum(events) / sum(replica-seconds) over the intervals of the last
//     processingWindowSeconds, so replicas weigh by the time they worked.
//   busy: a replica's own counters (the runtime's events processed and the
//     seconds its handler ran): events / busy-second is its capacity whether
//     or not work waited, so an unsaturated replica measures too. When both
//     are known, the lower of the busy-time rate and the saturated throughput
//     counts (busy time leaves out fetching and committing).
//   arrived: events published (the topics' high watermarks); the arrival rate
//     is sum(events) / sum(seconds) over the last arrivalWindowSeconds.
// An interval counts only between two readings of the same source: a counter
// that went down (a restarted replica, a reset or recreated topic), a source
// seen for the first time (a replica joining mid-window) or a change of the
// replicas behind a source starts a new interval without a sample.
// Capacity is measured only while work waited: an interval is a sample when it
// was `saturated` (work waiting at both its readings), or when it shows a
// faster rate than the estimate (a replica never works faster than it can);
// otherwise an idle replica would read as a slow one. With no sample in the
// window the last estimate stays: capacity does not vanish when traffic stops.
// measure() is the one round both the autoscaler and the simulator run: the
// scaler's counters in, the rates out into the observation. Work waited when
// the backlog exceeded kSaturationSeconds of the interval's throughput at both
// readings: a consumer that commits every 250 ms always trails by a little,
// and reading that as saturation would make the rate what the replicas were
// given, not what they can do.
// A change of the working replicas starts kRebalanceSeconds in which the
// group's throughput is no sample (the group rebalances).
// Cold starts: the mean of the last coldStartSamples measured scale-up times.
// Thread-compatible values; time comes from the caller.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>

#include "autoscaler/metric_observation.h"
#include "common/clock.h"

namespace sluice::autoscaler {

inline constexpr double kSaturationSeconds = 5;
// measure(): how long after a change of the working replicas the group's throughput is no sample:
// a consumer group's rebalance, which a member gone without leaving holds for its session timeout
// (Kafka's and librdkafka's default session.timeout.ms, 45 s). In kafka_rate_settle_test, with 10 s
// the throughput sampled during rebalances (~160/s a replica against ~330/s of handler capacity) kept
// the replicas at the partition cap.
inline constexpr double kRebalanceSeconds = 45;

struct RateEstimatorOptions {
  double processingWindowSeconds = 120;
  double arrivalWindowSeconds = 15;
  int coldStartSamples = 10;
};

class RateEstimator {
 public:
  RateEstimator() = default;
  explicit RateEstimator(RateEstimatorOptions options) : options_(options) {}

  void observeProcessed(const std::string& source, double total, int replicas, bool saturated, Clock::TimePoint at);
  // One reading of a replica's events processed and handler busy seconds, both cumulative.
  void observeBusy(const std::string& source, double processedTotal, double busySecondsTotal, Clock::TimePoint at);
  // A source is gone (a replica stopped): its next reading starts afresh.
  void forget(const std::string& source) {
    processedLast_.erase(source);
    busyLast_.erase(source);
  }
  void observeArrived(double total, Clock::TimePoint at);
  void observeColdStart(double seconds);

  // One round: feeds the observation's counters (busySecondsTotal with
  // processedTotal as the replicas' own counters when present, else processedTotal from
  // `countedReplicas` when the replicas' counters say how many answered, else
  // `readyReplicas`, capped at its partitions; arrivedTotal), then fills its
  // arrivalRate, perReplicaRate and coldStartSeconds with what is known.
  void measure(MetricObservation& observation, int readyReplicas, Clock::TimePoint at);

  // Events/s one working replica processes; empty until measured.
  std::optional<double> perReplicaRate() const { return perReplicaRate_; }
  // Events/s arriving; empty until two readings.
  std::optional<double> arrivalRate() const { return arrivalRate_; }
  std::optional<double> coldStartSeconds() const;

 private:
  struct Reading {
    double total = 0;
    int replicas = 0;
    Clock::TimePoint at;
  };
  struct Interval {
    Clock::TimePoint end;
    double events = 0;
    double weight = 0;  // replica-seconds (processed) or seconds (arrived)
  };
  // Appends an interval, drops those older than the window, returns the window's rate.
  static std::optional<double> addInterval(std::deque<Interval>& intervals, Interval interval, double windowSeconds);

  RateEstimatorOptions options_;
  std::map<std::string, Reading> processedLast_;
  std::map<std::string, std::pair<double, double>> busyLast_;  // (processed, busy seconds)
  // perReplicaRate_ from the busy-time rate and the saturated-throughput rate.
  void combine();

  std::deque<Interval> processed_;  // saturated (or faster) throughput intervals
  std::optional<double> throughputRate_;
  std::deque<Interval> busy_;  // busy-time intervals
  std::optional<double> busyRate_;
  std::optional<double> perReplicaRate_;
  std::optional<Reading> arrivedLast_;
  std::deque<Interval> arrived_;
  std::optional<double> arrivalRate_;
  std::deque<double> coldStarts_;
  std::optional<double> lastBacklog_;             // measure(): the previous round's backlog
  std::optional<int> lastWorking_;                // measure(): the previous round's working replicas
  std::optional<Clock::TimePoint> rebalancedAt_;  // measure(): when they last changed
};

}  // namespace sluice::autoscaler
