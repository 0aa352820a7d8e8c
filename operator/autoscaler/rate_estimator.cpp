#include "autoscaler/rate_estimator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

namespace sluice::autoscaler {

namespace {

// measure()'s source: the consumer group's committed offsets.
constexpr const char* kGroupSource = "group";
// measure()'s source with busy time: the replicas' own counters, summed.
constexpr const char* kReplicasSource = "replicas";

double secondsBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::optional<double> RateEstimator::addInterval(std::deque<Interval>& intervals, Interval interval,
                                                 double windowSeconds) {
  intervals.push_back(interval);
  const Clock::TimePoint cutoff =
      interval.end - std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(windowSeconds));
  while (intervals.size() > 1 && intervals.front().end <= cutoff) intervals.pop_front();
  double events = 0;
  double weight = 0;
  for (const Interval& i : intervals) {
    events += i.events;
    weight += i.weight;
  }
  if (weight <= 0) return std::nullopt;
  return events / weight;
}

void RateEstimator::observeProcessed(const std::string& source, double total, int replicas, bool saturated,
                                     Clock::TimePoint at) {
  auto it = processedLast_.find(source);
  const Reading reading{total, replicas, at};
  if (it == processedLast_.end()) {
    processedLast_.emplace(source, reading);
    return;
  }
  const Reading previous = it->second;
  it->second = reading;
  const double seconds = secondsBetween(previous.at, at);
  // A restart or reset, a change of who worked, or no time: a new baseline, no sample.
  if (total < previous.total || replicas != previous.replicas || replicas <= 0 || seconds <= 0) return;
  const double events = total - previous.total;
  const double replicaSeconds = seconds * replicas;
  const double rate = events / replicaSeconds;
  const bool faster = throughputRate_ && rate > *throughputRate_;
  if (!saturated && !faster) return;
  throughputRate_ = addInterval(processed_, {at, events, replicaSeconds}, options_.processingWindowSeconds);
  combine();
}

void RateEstimator::combine() {
  // Busy time leaves out what a replica does besides its handler (fetching,
  // committing): when saturated replicas did less, that is what they can do.
  if (busyRate_ && throughputRate_) {
    perReplicaRate_ = std::min(*busyRate_, *throughputRate_);
  } else {
    perReplicaRate_ = busyRate_ ? busyRate_ : throughputRate_;
  }
}

void RateEstimator::observeBusy(const std::string& source, double processedTotal, double busySecondsTotal,
                                Clock::TimePoint at) {
  const std::pair<double, double> reading{processedTotal, busySecondsTotal};
  auto [it, first] = busyLast_.try_emplace(source, reading);
  if (first) return;
  const auto [processedBefore, busyBefore] = it->second;
  it->second = reading;
  // A restarted replica's counters start again: a new baseline.
  if (processedTotal < processedBefore || busySecondsTotal <= busyBefore) return;
  busyRate_ = addInterval(busy_, {at, processedTotal - processedBefore, busySecondsTotal - busyBefore},
                          options_.processingWindowSeconds);
  combine();
}

void RateEstimator::observeArrived(double total, Clock::TimePoint at) {
  const Reading reading{total, 1, at};
  const std::optional<Reading> previous = arrivedLast_;
  arrivedLast_ = reading;
  if (!previous) return;
  const double seconds = secondsBetween(previous->at, at);
  // A recreated topic starts its offsets again: a new baseline.
  if (total < previous->total || seconds <= 0) return;
  arrivalRate_ = addInterval(arrived_, {at, total - previous->total, seconds}, options_.arrivalWindowSeconds);
}

void RateEstimator::measure(MetricObservation& m, int readyReplicas, Clock::TimePoint at) {
  if (m.processedTotal && m.busySecondsTotal) observeBusy(kReplicasSource, *m.processedTotal, *m.busySecondsTotal, at);
  if (m.processedTotal) {
    const int replicas = m.countedReplicas.value_or(readyReplicas);
    const int working = m.partitions > 0 ? std::min(replicas, m.partitions) : replicas;
    const auto last = processedLast_.find(kGroupSource);
    const double backlog = m.backlog.value_or(m.value.value_or(0));
    bool saturated = false;
    if (last != processedLast_.end() && lastBacklog_ && at > last->second.at) {
      const double throughput = (*m.processedTotal - last->second.total) / secondsBetween(last->second.at, at);
      const double busy = std::max(throughput, 0.0) * kSaturationSeconds;
      saturated = *lastBacklog_ > busy && backlog > busy && throughput > 0;
    }
    // After a change of the working replicas the group rebalances: for a few seconds ready replicas
    // own no partition or have not joined yet, and their throughput, read as capacity, would be far
    // below it (the kafka_rate_settle integration test measured 77/s against 300/s). Such an
    // underestimate never corrects itself: the surplus replicas it asks for never saturate again.
    if (lastWorking_ && *lastWorking_ != working) rebalancedAt_ = at;
    lastWorking_ = working;
    // (An interval that starts within it is no sample either.)
    if (rebalancedAt_ &&
        (last == processedLast_.end() || secondsBetween(*rebalancedAt_, last->second.at) < kRebalanceSeconds)) {
      processedLast_[kGroupSource] = Reading{*m.processedTotal, working, at};  // a baseline, no sample
    } else {
      observeProcessed(kGroupSource, *m.processedTotal, working, saturated, at);
    }
    lastBacklog_ = backlog;
  }
  if (m.arrivedTotal) observeArrived(*m.arrivedTotal, at);
  m.arrivalRate = arrivalRate_;
  m.perReplicaRate = perReplicaRate_;
  m.coldStartSeconds = coldStartSeconds();
}

void RateEstimator::observeColdStart(double seconds) {
  if (!(seconds >= 0)) return;
  coldStarts_.push_back(seconds);
  while (static_cast<int>(coldStarts_.size()) > std::max(options_.coldStartSamples, 1)) coldStarts_.pop_front();
}

std::optional<double> RateEstimator::coldStartSeconds() const {
  if (coldStarts_.empty()) return std::nullopt;
  return std::accumulate(coldStarts_.begin(), coldStarts_.end(), 0.0) / static_cast<double>(coldStarts_.size());
}

}  // namespace sluice::autoscaler
