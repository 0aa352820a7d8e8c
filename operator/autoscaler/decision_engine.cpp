#include "autoscaler/decision_engine.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace sluice::autoscaler {

namespace {

// HPA's tolerance: utilization within 10% of the target keeps the current count.
constexpr double kUtilizationTolerance = 0.1;
// Caps absurd metric values (a broken exporter) before they become an int.
constexpr double kReplicaCeiling = 1'000'000;
// How often a Function whose count is the user's is measured. Its measurements only inform its
// status and its Triggers' status (nothing scales on them), so the burst window's 6 s or the rate
// rule's 1 s cadence would only load the brokers: at 1,000 pinned Functions that was 170 rounds a
// second for nothing (bench/scale). A spec change still measures at once (the reconciler's fingerprint).
constexpr auto kHeldCountCheckInterval = std::chrono::seconds(60);
// Under the rate rule, for kRebalanceSettleSeconds after the count changed it does not go down, and for
// kScaleDownSettleSeconds after a scale-down the backlog counts at most as it was at that change. Each
// change moves partitions, and a consumer group consumes nothing on them while it rebalances (3-8 s a
// change on the test Kafka with 12 partitions, longer on a busy machine, up to a member's session
// timeout of 45 s, the RateEstimator's kRebalanceSeconds). The backlog that piles up meanwhile is that
// pause, not missing capacity: scaling up on it right after giving replicas back, or giving back a
// replica the pause made look idle, is another change and another pause. rate_settle_test, a steady
// 2,000 records/s: without these 12 -> 5 -> 12 -> 7 -> 9 -> 12, pods living 2 s; with a 10 s cap after a
// scale-down it settled on a quiet machine, and at load 7-10 went 12 -> 5 -> 12 -> 6 -> 12 every ~30 s;
// with 45 s it settled at 5. The arrival rate still counts at once, so a real rise is followed. A
// scale-up inside those 45 s keeps the cap: at 2,000/s and ~400/s a replica the arrivals alone flip
// the count between 5 and 6, and when that 5 -> 6 ended the cap the rebalance backlog of the 11 -> 5
// before it sent the count to 12 two seconds later (CI of 2026-12-07, twice); it costs the simulator's
// daily wave 0.2 s of p99 (1.85 -> 2.05 s, keda-default's 2.05 s). After a scale-up with no
// scale-down in the 45 s before it the backlog counts whole: growth then is capacity still missing (a
// ramp); capping it too raised the daily wave's p99 from 1.85 to 2.55 s in the simulator.
constexpr auto kRebalanceSettleSeconds = std::chrono::seconds(10);
constexpr auto kScaleDownSettleSeconds = std::chrono::seconds(45);

// Whether `at` (a change of the count, a scale-down) lies less than `window` before `now`.
bool within(const std::optional<Clock::TimePoint>& at, Clock::Duration window, Clock::TimePoint now) {
  return at && now - *at < window;
}

int replicasFor(double value) {
  if (!(value > 0)) return 0;  // also catches NaN
  return static_cast<int>(std::min(std::ceil(value), kReplicaCeiling));
}

int desiredForValue(const MetricObservation& metric, double value, int current) {
  if (metric.targetType == MetricTargetType::kUtilization) {
    // Utilization says nothing at zero replicas; CPU alone never activates.
    if (current == 0) return 0;
    double ratio = value / metric.target;
    // The epsilon keeps exactly 10% (55% of a 50% target) inside the band despite 1.1 - 1.0 > 0.1 in doubles.
    if (std::abs(ratio - 1.0) <= kUtilizationTolerance + 1e-9) return current;
    return replicasFor(current * ratio);
  }
  // Floating error must not turn 30/10 into 4: round away tiny excesses first.
  double ratio = value / metric.target;
  double rounded = std::round(ratio);
  if (std::abs(ratio - rounded) < 1e-9) ratio = rounded;
  return replicasFor(ratio);
}

int desiredForMetric(const MetricObservation& metric, int current) {
  return desiredForValue(metric, *metric.value, current);
}

// The rate rule: the replicas the arrivals need plus those that drain the
// backlog within the drain target. Replicas started now are ready only after a
// cold start; meanwhile the backlog grows by what the working ones cannot take.
int rateDesired(const MetricObservation& m, double backlogCounted, int current, int drainTargetSeconds) {
  const double rate = *m.perReplicaRate;
  const double arrival = std::max(*m.arrivalRate, 0.0);
  const double backlog = std::max(backlogCounted, 0.0);
  const int working = m.partitions > 0 ? std::min(current, m.partitions) : current;
  const double growth = std::max(arrival - working * rate, 0.0) * std::max(m.coldStartSeconds.value_or(0), 0.0);
  double need = arrival / rate + (backlog + growth) / (rate * drainTargetSeconds);
  // Floating error must not turn an exact 2 replicas into 3.
  if (std::abs(need - std::round(need)) < 1e-9) need = std::round(need);
  int desired = replicasFor(need);
  // Consumers beyond the partitions would idle.
  if (m.partitions > 0) desired = std::min(desired, m.partitions);
  return desired;
}

// The time-weighted mean over (now - window, now] of a step function in which
// each sample holds over the interval since the one before it (a reading is a
// rate or count measured up to its time). A lone sample in the window is its own mean.
double windowMean(const std::deque<std::pair<Clock::TimePoint, double>>& samples, Clock::TimePoint now,
                  Clock::Duration window) {
  const Clock::TimePoint start = now - window;
  double weighted = 0;
  double covered = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Clock::TimePoint to = samples[i].first;
    if (to <= start) continue;
    const Clock::TimePoint from = std::max(i == 0 ? to : samples[i - 1].first, start);
    const double seconds = std::chrono::duration<double>(to - from).count();
    weighted += samples[i].second * seconds;
    covered += seconds;
  }
  if (covered > 0) return weighted / covered;
  return samples.empty() ? 0 : samples.back().second;
}

}  // namespace

const char* scaleDirectionName(ScaleDirection direction) {
  switch (direction) {
    case ScaleDirection::kUp: return "up";
    case ScaleDirection::kDown: return "down";
    case ScaleDirection::kNone: return "none";
  }
  return "none";
}

DecisionEngine::DecisionEngine(ScalingPolicy policy, const Clock& clock)
    : policy_(std::move(policy)), clock_(clock), lastActive_(clock.now()) {}

namespace {

std::string transition(int current, int desired) { return std::to_string(current) + " -> " + std::to_string(desired); }

}  // namespace

DecisionEngine::MetricsVerdict DecisionEngine::readMetrics(int current, const std::vector<MetricObservation>& metrics,
                                                           ScaleDecision& decision) {
  MetricsVerdict verdict;
  std::string driver;  // the metric that asked for the most replicas
  for (const MetricObservation& metric : metrics) {
    MetricResult result;
    result.name = metric.name;
    result.value = metric.value;
    result.error = metric.error;
    if (!metric.value) {
      int& failures = failures_[metric.name];
      ++failures;
      result.consecutiveFailures = failures;
      if (policy_.fallback && failures >= policy_.fallback->failureThreshold) {
        result.desiredReplicas = policy_.fallback->replicas;
        verdict.fallbackActive = true;
      } else {
        // Missing data never scales down (as HPA counts a missing metric as 100% on scale-down).
        result.desiredReplicas = current;
        verdict.holdForErrors = true;
      }
    } else {
      failures_.erase(metric.name);
      const int instant = std::max(desiredFor(metric, current, result), metric.minReplicas);
      verdict.rateRule = verdict.rateRule || result.rateRule;
      if (result.rateRule && metric.coldStartSeconds) {
        verdict.coldStartSeconds =
            std::max(verdict.coldStartSeconds, static_cast<int>(std::ceil(std::max(*metric.coldStartSeconds, 0.0))));
      }
      result.desiredReplicas = instant;
      int panic = instant;
      if (metric.windowed) {
        auto [stable, short_] = windowedDesired(metric, current, clock_.now(), result);
        result.desiredReplicas = std::max(stable, metric.minReplicas);
        panic = std::max(short_, metric.minReplicas);
      }
      verdict.instant = std::max(verdict.instant, instant);
      verdict.panic = std::max(verdict.panic, panic);
      bool utilization = metric.targetType == MetricTargetType::kUtilization;
      result.active =
          (!utilization || current > 0) && metric.active.value_or(*metric.value > metric.activationThreshold);
      // A floor (a cron window) is work by definition; so are arrivals the replicas keep up with
      // (a lag of 0 then is not idleness, and the rate rule's short cooldown must not stop them).
      if (metric.minReplicas > 0) result.active = true;
      if (result.rateRule && metric.arrivalRate.value_or(0) > 0) result.active = true;
    }
    if (!metric.value) {
      verdict.instant = std::max(verdict.instant, result.desiredReplicas);
      verdict.panic = std::max(verdict.panic, result.desiredReplicas);
    }
    if (driver.empty() || result.desiredReplicas > verdict.recommended) driver = metric.name;
    verdict.recommended = std::max(verdict.recommended, result.desiredReplicas);
    verdict.active = verdict.active || result.active;
    decision.metrics.push_back(std::move(result));
  }
  verdict.why =
      driver.empty() ? std::string("no metrics") : driver + " asks for " + std::to_string(verdict.recommended);
  return verdict;
}

int DecisionEngine::desiredFor(const MetricObservation& metric, int current, MetricResult& result) {
  result.arrivalRate = metric.arrivalRate;
  result.perReplicaRate = metric.perReplicaRate;
  result.coldStartSeconds = metric.coldStartSeconds;
  // Windowed metrics are rates already; CPU has no backlog. Unmeasured rates: the backlog rule.
  const bool rate = policy_.mode == ScalingMode::kRate && !metric.windowed &&
                    metric.targetType == MetricTargetType::kAverageValue && metric.arrivalRate &&
                    metric.perReplicaRate && *metric.perReplicaRate > 0;
  if (!rate) return desiredForMetric(metric, current);
  result.rateRule = true;
  const double backlog = metric.backlog.value_or(*metric.value);
  double counted = backlog;
  if (within(scaledDownAt_, kScaleDownSettleSeconds, clock_.now())) {
    if (auto atDown = backlogsAtScaleDown_.find(metric.name); atDown != backlogsAtScaleDown_.end()) {
      counted = std::min(backlog, atDown->second);
    }
  }
  // What a change records is what it counted: a second scale-down within the settle time must not
  // make the rebalance backlog the first one left out count after all (rate_settle_test went
  // 6 -> 5 -> 7 -> 10 -> 12 within 8 s, each time it reached 5).
  backlogs_[metric.name] = counted;
  return rateDesired(metric, counted, current, policy_.drainTargetSeconds);
}

int DecisionEngine::holdSeconds(bool rateRule) const {
  // The rate rule already keeps what the backlog needs; holding longer than its drain target buys nothing.
  return rateRule ? std::min(policy_.burst.holdSeconds, policy_.drainTargetSeconds) : policy_.burst.holdSeconds;
}

void DecisionEngine::startBurst(Clock::TimePoint now, bool rateRule) {
  burstSince_ = now;
  burstUntil_ = now + std::chrono::seconds(holdSeconds(rateRule));
}

std::pair<int, int> DecisionEngine::windowedDesired(const MetricObservation& metric, int current, Clock::TimePoint now,
                                                    MetricResult& result) {
  auto& samples = samples_[metric.name];
  samples.emplace_back(now, *metric.value);
  const auto stableWindow = std::chrono::seconds(policy_.burst.stableWindowSeconds);
  // Keep one sample older than the window: it bounds the interval of the first one inside.
  while (samples.size() > 1 && samples[1].first <= now - stableWindow) samples.pop_front();
  const double stable = windowMean(samples, now, stableWindow);
  const double panic = windowMean(samples, now, std::chrono::seconds(policy_.burst.windowSeconds));
  result.stableAverage = stable;
  result.panicAverage = panic;
  return {desiredForValue(metric, stable, current), desiredForValue(metric, panic, current)};
}

DecisionEngine::Step DecisionEngine::fromZero(const MetricsVerdict& verdict, Clock::TimePoint now) {
  // Nothing runs yet: what the metrics ask for now, not a mean over the idle past.
  const int asked = std::max(verdict.recommended, verdict.instant);
  int want = (verdict.active || verdict.fallbackActive) ? std::max(asked, 1) : 0;
  want = std::min(std::max(want, policy_.minReplicas), policy_.maxReplicas);
  if (want == 0) {
    if (verdict.holdForErrors) return {0, "ScalerError", "a scaler failed; staying at 0 until it answers"};
    return {0, "Idle", "no work"};
  }
  if (policy_.pause.pausedScaleOut) return {0, "PausedScaleOut", "scale-out paused; " + verdict.why};
  recommendations_.push_back({now, want});
  bool spike = policy_.burst.enabled && static_cast<long long>(want) * 100 >= policy_.burst.thresholdPercent;
  if (spike && verdict.active) {
    startBurst(now, verdict.rateRule);
    return {want, "Burst", transition(0, want) + ": " + verdict.why};
  }
  // The scale-up rules count from zero; activation itself is never blocked.
  const int desired = std::min(want, std::max(scaleUpLimit(0, now), 1));
  const char* reason = verdict.active ? "Activation" : verdict.fallbackActive ? "Fallback" : "MinReplicas";
  return {desired, reason, transition(0, desired) + ": " + verdict.why};
}

DecisionEngine::Step DecisionEngine::aboveZero(int current, const MetricsVerdict& verdict, Clock::TimePoint now) {
  // Above zero: never below one here; 1 -> 0 is the cooldown's job alone.
  const int floor = std::max(policy_.minReplicas, 1);
  int target = verdict.recommended;
  if (verdict.holdForErrors) target = std::max(target, current);
  target = std::clamp(target, floor, std::max(floor, policy_.maxReplicas));

  // The spike test reads the panic window (the same count for unwindowed metrics).
  const int spike = std::clamp(std::max(verdict.panic, verdict.holdForErrors ? current : 0), floor,
                               std::max(floor, policy_.maxReplicas));
  // A burst begun under the backlog rule (a wake from zero, before any rate is measured) ends as the
  // rate rule's would once the rates are known: they size the count to the burst themselves, and the
  // backlog rule's hold kept the partition cap a whole minute (rate_settle_test: settled 61 s after waking).
  if (verdict.rateRule && burstSince_ && burstUntil_) {
    burstUntil_ = std::min(*burstUntil_, *burstSince_ + std::chrono::seconds(holdSeconds(true)));
  }
  if (policy_.burst.enabled &&
      static_cast<long long>(spike) * 100 >= static_cast<long long>(policy_.burst.thresholdPercent) * current) {
    startBurst(now, verdict.rateRule);
  }
  const std::string& why = verdict.why;
  if (burstUntil_ && now < *burstUntil_) {
    // Panic: jump straight to what the spike needs, and hold; never scale down.
    const int desired = std::max({current, target, spike});
    const std::string panicWhy = spike > target ? "; the panic window asks for " + std::to_string(spike) : "";
    return {desired,
            desired > current                   ? "Burst"
            : std::max(target, spike) < current ? "BurstHold"
                                                : "Stable",
            transition(current, desired) + ": " + why + panicWhy +
                (desired > current ? "" : "; burst mode holds the count")};
  }
  const int downWindow = verdict.rateRule ? std::min(policy_.scaleDown.stabilizationWindowSeconds,
                                                     std::max(policy_.drainTargetSeconds, verdict.coldStartSeconds))
                                          : policy_.scaleDown.stabilizationWindowSeconds;
  int stabilized = stabilize(current, target, now, downWindow);
  if (verdict.rateRule && within(changedAt_, kRebalanceSettleSeconds, now)) stabilized = std::max(stabilized, current);
  const bool fallback = verdict.fallbackActive && verdict.recommended == policy_.fallback->replicas;
  if (stabilized > current) {
    const int desired = std::min(stabilized, scaleUpLimit(current, now));
    if (desired == current) return {current, "RateLimited", why + "; scale-up rules allow no more replicas now"};
    return {desired, fallback ? "Fallback" : "Metrics",
            transition(current, desired) + ": " + why + (desired < stabilized ? " (limited by scale-up rules)" : "")};
  }
  if (stabilized < current) {
    const int desired = std::max(stabilized, scaleDownLimit(current, now));
    if (desired == current) return {current, "RateLimited", why + "; scale-down rules allow no fewer replicas now"};
    return {desired, fallback ? "Fallback" : "Metrics",
            transition(current, desired) + ": " + why + (desired > stabilized ? " (limited by scale-down rules)" : "")};
  }
  const std::string held = why + "; held at " + std::to_string(current) + " by the scale-";
  if (target < current) return {current, "Stabilizing", held + "down stabilization window"};
  if (target > current) return {current, "Stabilizing", held + "up stabilization window"};
  if (verdict.holdForErrors) return {current, "ScalerError", "a scaler failed; holding " + std::to_string(current)};
  return {current, "Stable", why};
}

DecisionEngine::Step DecisionEngine::bound(int current, const MetricsVerdict& verdict, Step step,
                                           Clock::TimePoint now) const {
  // 1 -> 0 only from one replica, after cooldownSeconds without any activity,
  // and never while a scaler is failing (its silence is not idleness).
  const bool inBurst = burstUntil_ && now < *burstUntil_;
  if (step.desired == 1 && current == 1 && policy_.minReplicas == 0 && !verdict.active && !verdict.holdForErrors &&
      !verdict.fallbackActive && !inBurst && now - lastActive_ >= std::chrono::seconds(policy_.cooldown())) {
    step = {0, "CooldownElapsed", "no activity for " + std::to_string(policy_.cooldown()) + "s"};
  }
  const int floor = std::max(policy_.minReplicas, 1);
  if (step.desired > policy_.maxReplicas) {
    step = {policy_.maxReplicas, "MaxReplicas",
            transition(current, policy_.maxReplicas) + ": maxReplicas is " + std::to_string(policy_.maxReplicas)};
  } else if (step.desired != 0 && step.desired < floor) {
    step = {floor, "MinReplicas",
            transition(current, floor) + ": minReplicas is " + std::to_string(policy_.minReplicas)};
  }
  if (step.desired < current && policy_.pause.pausedScaleIn) {
    return {current, "PausedScaleIn", "scale-in paused; " + verdict.why};
  }
  if (step.desired > current && policy_.pause.pausedScaleOut) {
    return {current, "PausedScaleOut", "scale-out paused; " + verdict.why};
  }
  return step;
}

ScaleDecision DecisionEngine::finish(ScaleDecision decision, int current, Step step, Clock::TimePoint now) {
  decision.desiredReplicas = step.desired;
  decision.reason = std::move(step.reason);
  decision.message = std::move(step.message);
  decision.direction = step.desired > current   ? ScaleDirection::kUp
                       : step.desired < current ? ScaleDirection::kDown
                                                : ScaleDirection::kNone;
  if (step.desired != current) {
    changes_.push_back({now, step.desired - current});
    changedAt_ = now;
    if (step.desired < current) {
      scaledDownAt_ = now;
      backlogsAtScaleDown_ = backlogs_;
    }
  }
  decision.burst = burstUntil_ && now < *burstUntil_;
  const bool rateRule =
      std::any_of(decision.metrics.begin(), decision.metrics.end(), [](const MetricResult& m) { return m.rateRule; });
  decision.nextCheckAfter = nextCheckAfter(step.desired, rateRule);
  return decision;
}

ScaleDecision DecisionEngine::decide(int current, const std::vector<MetricObservation>& metrics) {
  const Clock::TimePoint now = clock_.now();
  prune(now);

  backlogs_.clear();
  ScaleDecision decision;
  decision.currentReplicas = current;
  decision.warmPoolReplicas = policy_.warmPool;
  const MetricsVerdict verdict = readMetrics(current, metrics, decision);
  if (verdict.active) lastActive_ = now;
  decision.active = verdict.active;
  decision.fallback = verdict.fallbackActive;
  decision.recommendedReplicas = verdict.recommended;
  decision.lastActiveTime = lastActive_;

  // Pause overrides everything the metrics say.
  decision.held = policy_.pause.pinnedReplicas.has_value() || policy_.pause.paused;
  if (policy_.pause.pinnedReplicas) {
    const int pinned = *policy_.pause.pinnedReplicas;
    return finish(std::move(decision), current, {pinned, "Pinned", "replicas pinned at " + std::to_string(pinned)},
                  now);
  }
  if (policy_.pause.paused) {
    return finish(std::move(decision), current, {current, "Paused", "autoscaling paused at " + std::to_string(current)},
                  now);
  }
  if (current == 0) return finish(std::move(decision), current, fromZero(verdict, now), now);
  return finish(std::move(decision), current, bound(current, verdict, aboveZero(current, verdict, now), now), now);
}

int DecisionEngine::stabilize(int current, int recommended, Clock::TimePoint now, int downWindowSeconds) {
  // As HPA: scaling up goes to the lowest recommendation of the up window,
  // scaling down to the highest of the down window.
  const Clock::TimePoint upCutoff = now - std::chrono::seconds(policy_.scaleUp.stabilizationWindowSeconds);
  const Clock::TimePoint downCutoff = now - std::chrono::seconds(downWindowSeconds);
  int up = recommended;
  int down = recommended;
  for (const Recommendation& r : recommendations_) {
    if (r.at > upCutoff) up = std::min(up, r.replicas);
    if (r.at > downCutoff) down = std::max(down, r.replicas);
  }
  recommendations_.push_back({now, recommended});
  int result = current;
  if (result < up) result = up;
  if (result > down) result = down;
  return result;
}

// The replica count at the start of a rule's period: a rule limits the change
// over its whole period, not per decision, as the HPA's behavior does.
long long DecisionEngine::replicasAtPeriodStart(int current, const ScalingRule& rule, Clock::TimePoint now) const {
  const Clock::TimePoint cutoff = now - std::chrono::seconds(rule.periodSeconds);
  long long added = 0;
  long long removed = 0;
  for (const ScaleChange& change : changes_) {
    if (change.at <= cutoff) continue;
    if (change.delta > 0) added += change.delta;
    if (change.delta < 0) removed -= change.delta;
  }
  return current - added + removed;
}

int DecisionEngine::scaleUpLimit(int current, Clock::TimePoint now) const {
  const ScalingDirectionBehavior& behavior = policy_.scaleUp;
  if (behavior.selectPolicy == SelectPolicy::kDisabled) return current;
  bool pickMax = behavior.selectPolicy == SelectPolicy::kMax;
  long long best = pickMax ? LLONG_MIN : LLONG_MAX;
  for (const ScalingRule& rule : behavior.policies) {
    const long long periodStart = replicasAtPeriodStart(current, rule, now);
    long long proposed = rule.type == ScalingRule::Type::kPods
                             ? periodStart + rule.value
                             : static_cast<long long>(std::ceil(periodStart * (1.0 + rule.value / 100.0)));
    best = pickMax ? std::max(best, proposed) : std::min(best, proposed);
  }
  if (best < current) best = current;
  return static_cast<int>(std::min<long long>(best, INT_MAX));
}

int DecisionEngine::scaleDownLimit(int current, Clock::TimePoint now) const {
  const ScalingDirectionBehavior& behavior = policy_.scaleDown;
  if (behavior.selectPolicy == SelectPolicy::kDisabled) return current;
  bool pickMax = behavior.selectPolicy == SelectPolicy::kMax;
  long long best = pickMax ? LLONG_MAX : LLONG_MIN;
  for (const ScalingRule& rule : behavior.policies) {
    const long long periodStart = replicasAtPeriodStart(current, rule, now);
    long long proposed = rule.type == ScalingRule::Type::kPods
                             ? periodStart - rule.value
                             : static_cast<long long>(periodStart * (1.0 - rule.value / 100.0));
    // "Max" means the rule allowing the biggest change, i.e. the lowest count.
    best = pickMax ? std::min(best, proposed) : std::max(best, proposed);
  }
  if (best > current) best = current;
  return static_cast<int>(std::max<long long>(best, 0));
}

void DecisionEngine::prune(Clock::TimePoint now) {
  int window = std::max(policy_.scaleUp.stabilizationWindowSeconds, policy_.scaleDown.stabilizationWindowSeconds);
  while (!recommendations_.empty() && recommendations_.front().at <= now - std::chrono::seconds(window)) {
    recommendations_.pop_front();
  }
  int period = 0;
  for (const auto* behavior : {&policy_.scaleUp, &policy_.scaleDown}) {
    for (const ScalingRule& rule : behavior->policies) period = std::max(period, rule.periodSeconds);
  }
  while (!changes_.empty() && changes_.front().at <= now - std::chrono::seconds(period)) changes_.pop_front();
}

Clock::Duration DecisionEngine::nextCheckAfter(int replicas, bool rateRule) const {
  if (policy_.pause.holdsCount()) return kHeldCountCheckInterval;
  if (replicas == 0) return std::chrono::milliseconds(policy_.activationIntervalMilliseconds);
  int seconds = policy_.pollingIntervalSeconds;
  if (policy_.burst.enabled) seconds = std::min(seconds, policy_.burst.windowSeconds);
  // A spike seen a poll late is drained late: the rate rule reacts within a tenth of its drain target.
  if (rateRule) seconds = std::min(seconds, std::max(1, policy_.drainTargetSeconds / 10));
  return std::chrono::seconds(seconds);
}

}  // namespace sluice::autoscaler
