#include "simulator/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "autoscaler/decision_engine.h"
#include "autoscaler/rate_estimator.h"
#include "common/clock.h"

namespace sluice::simulator {

namespace {

constexpr int64_t kTicksPerSecond = 10;
constexpr double kTick = 1.0 / kTicksPerSecond;
constexpr int64_t kMaxDrainTicks = 3600LL * kTicksPerSecond;

// A Clock the simulation moves by hand; nothing ever sleeps on it.
class SimulatedClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point{} +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch());
  }
  bool sleepUntil(TimePoint deadline, std::stop_token) override {
    now_ = std::max(now_, deadline);
    return true;
  }
  void setTick(int64_t tick) { now_ = TimePoint{} + std::chrono::milliseconds(tick * 1000 / kTicksPerSecond); }

 private:
  TimePoint now_{};
};

int64_t ticksFor(double seconds) { return static_cast<int64_t>(std::llround(seconds * kTicksPerSecond)); }
int64_t ticksFor(Clock::Duration d) {
  return std::max<int64_t>(1,
                           std::chrono::duration_cast<std::chrono::milliseconds>(d).count() * kTicksPerSecond / 1000);
}

struct Chunk {
  double arrivedAt;
  double events;
};

double quantile(std::vector<std::pair<double, double>>& weighted, double total, double q) {
  if (weighted.empty() || total <= 0) return 0;
  std::sort(weighted.begin(), weighted.end());
  double want = q * total;
  double seen = 0;
  for (const auto& [latency, weight] : weighted) {
    seen += weight;
    if (seen >= want - 1e-9) return latency;
  }
  return weighted.back().first;
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

Clock::TimePoint timeOf(int64_t tick) {
  return Clock::TimePoint{} + std::chrono::milliseconds(tick * 1000 / kTicksPerSecond);
}

// The warm pool one Simulation, or several (simulateSharedPool), adopt from. A
// pod adopted is replaced, ready `startTicks` later; with a sizer the pool is
// resized once a second to WarmPoolSizer::size (new pods ready `startTicks`
// later, surplus ones gone at once, starting ones first).
class WarmPool {
 public:
  WarmPool(int size, int64_t startTicks, std::optional<autoscaler::WarmPoolSizing> sizing)
      : size_(size), ready_(size), startTicks_(startTicks) {
    if (sizing) sizer_.emplace(*sizing);
  }

  // Adopts a ready pod at `tick`, if there is one.
  bool take(int64_t tick) {
    if (ready_ == 0) return false;
    --ready_;
    starting_.push_back(tick + startTicks_);
    return true;
  }
  void recordStarts(int starts, int warm, int64_t tick) {
    if (sizer_) sizer_->recordStarts(starts, warm, timeOf(tick));
    starts_ += std::max(starts, 0);
    startsWarm_ += std::max(warm, 0);
  }
  // Pods whose start ended are ready; once a second a sized pool follows its size.
  void step(int64_t tick) {
    for (auto it = starting_.begin(); it != starting_.end();) {
      if (*it <= tick) {
        ++ready_;
        it = starting_.erase(it);
      } else {
        ++it;
      }
    }
    if (sizer_ && tick % kTicksPerSecond == 0) resize(tick, sizer_->size(timeOf(tick)));
  }
  int pods() const { return ready_ + static_cast<int>(starting_.size()); }
  int sizeMax() const { return sizeMax_; }
  int starts() const { return starts_; }
  int startsWarm() const { return startsWarm_; }

 private:
  void resize(int64_t tick, int size) {
    size_ = size;
    sizeMax_ = std::max(sizeMax_, size);
    while (pods() < size_) starting_.push_back(tick + startTicks_);
    while (pods() > size_ && !starting_.empty()) starting_.pop_back();
    while (pods() > size_) --ready_;
  }

  int size_ = 0;
  int sizeMax_ = 0;
  int ready_ = 0;
  std::vector<int64_t> starting_;  // the tick each starting pod is ready at
  int64_t startTicks_ = 0;
  std::optional<autoscaler::WarmPoolSizer> sizer_;
  int starts_ = 0;
  int startsWarm_ = 0;
};

// The scaling policy the engine runs for `policy`.
autoscaler::ScalingPolicy enginePolicyFor(const SimulatedFunction& function, Policy policy) {
  if (policy != Policy::kKedaDefault) return function.policy;
  // The HPA KEDA generates: min 1 (KEDA itself handles 0 <-> 1), HPA defaults, no burst.
  autoscaler::ScalingPolicy keda;
  keda.minReplicas = 1;
  keda.maxReplicas = function.policy.maxReplicas;
  keda.pollingIntervalSeconds = 15;
  keda.burst.enabled = false;
  keda.mode = autoscaler::ScalingMode::kBacklog;
  return keda;
}

// One run of a trace under a policy, a tick (1/kTicksPerSecond s) at a time:
// events arrive, the policy decides, replicas start or stop, ready replicas serve.
class Simulation {
 public:
  // `sharedPool`: the pool it adopts from with other Simulations (their driver steps and counts it);
  // null: a pool of its own, trace.warmPool pods under Policy::kSluice.
  Simulation(const Trace& trace, const SimulatedFunction& function, Policy policy, WarmPool* sharedPool = nullptr)
      : trace_(trace), function_(function), policy_(policy), engine_(enginePolicyFor(function, policy), clock_) {
    result_.policy = policyName(policy);
    result_.metric = function.metric == SimulatedMetric::kBacklog           ? "backlog"
                     : function.metric == SimulatedMetric::kHttpConcurrency ? "http-concurrency"
                                                                            : "http-rps";
    // The trace describes the platform, warm pool included (the pool is shared by every Function
    // of a runtime image, so its size is the platform's, not one Function's).
    if (sharedPool == nullptr) {
      ownPool_.emplace(policy == Policy::kSluice ? trace.warmPool : 0, ticksFor(trace.coldStartSeconds), std::nullopt);
    }
    pool_ = sharedPool != nullptr ? sharedPool : &*ownPool_;
    if (policy == Policy::kStaticPeak) {
      double peak = *std::max_element(trace.arrivals.begin(), trace.arrivals.end());
      int needed = std::max(1, static_cast<int>(std::ceil(peak / trace.serviceRatePerReplica - 1e-9)));
      if (trace.partitions > 0) needed = std::min(needed, trace.partitions);
      replicas_.assign(static_cast<size_t>(needed), 0);
    }
  }

  SimulationResult run() {
    for (int64_t tick = 0; !done(tick); ++tick) step(tick);
    return finish();
  }

  // The trace is over and its backlog served (or an hour has passed since).
  bool done(int64_t tick) const {
    const int64_t traceTicks = static_cast<int64_t>(trace_.arrivals.size()) * kTicksPerSecond;
    return tick >= traceTicks && (backlog_ <= 1e-9 || tick >= traceTicks + kMaxDrainTicks);
  }

  void step(int64_t tick) {
    const int64_t traceTicks = static_cast<int64_t>(trace_.arrivals.size()) * kTicksPerSecond;
    clock_.setTick(tick);
    const double now = tick * kTick;
    if (tick < traceTicks) arrive(tick, now);
    if (ownPool_) ownPool_->step(tick);
    const int current = static_cast<int>(replicas_.size());
    resize(tick, current, desiredAt(tick, current));
    serve(tick, now);
  }

  SimulationResult finish() {
    result_.latencyP50Seconds = quantile(latencies_, served_, 0.50);
    result_.latencyP99Seconds = quantile(latencies_, served_, 0.99);
    return result_;
  }

 private:
  // Metric: the backlog, capped like KEDA's Kafka scaler at partitions x target;
  // for http, the requests waiting or being served (the fluid backlog) or the
  // arrival rate of the current second, averaged by the engine over its windows.
  autoscaler::MetricObservation observe(int64_t tick) const {
    const auto second = static_cast<size_t>(tick / kTicksPerSecond);
    const double arrivalRate = second < trace_.arrivals.size() ? trace_.arrivals[second] : 0.0;
    autoscaler::MetricObservation m;
    m.name = "backlog";
    m.target = function_.targetPerReplica;
    m.activationThreshold = function_.activationThreshold;
    double value = backlog_;
    if (trace_.partitions > 0) value = std::min(value, trace_.partitions * function_.targetPerReplica);
    if (function_.metric != SimulatedMetric::kBacklog) {
      m.name = function_.metric == SimulatedMetric::kHttpConcurrency ? "http-concurrency" : "http-rps";
      m.windowed = policy_ == Policy::kSluice;
      if (function_.metric == SimulatedMetric::kHttpRequestsPerSecond) {
        value = arrivalRate;
        m.active = arrivalRate > 0 || backlog_ > 0;
      }
    }
    m.value = value;
    return m;
  }

  void arrive(int64_t tick, double now) {
    double arriving = trace_.arrivals[static_cast<size_t>(tick / kTicksPerSecond)] / kTicksPerSecond;
    if (arriving <= 0) return;
    queue_.push_back({now + kTick / 2, arriving});
    backlog_ += arriving;
    result_.eventsTotal += arriving;
  }

  // The counters the Kafka scaler reads (committed offsets: events served; high
  // watermarks: events arrived) through the autoscaler's own estimator.
  autoscaler::MetricObservation observeWithRates(int64_t tick) {
    autoscaler::MetricObservation m = observe(tick);
    if (function_.metric != SimulatedMetric::kBacklog) return m;
    // The replicas' own counters, summed: events processed and handler busy seconds.
    m.processedTotal = served_;
    m.busySecondsTotal = served_ / trace_.serviceRatePerReplica;
    m.arrivedTotal = result_.eventsTotal;
    m.backlog = backlog_;
    m.partitions = trace_.partitions;
    int ready = 0;
    for (int64_t readyAt : replicas_) ready += readyAt <= tick ? 1 : 0;
    estimator_.measure(m, ready, clock_.now());
    return m;
  }

  // Scale-ups that became ready: the start-to-ready time the autoscaler measures.
  void recordColdStarts(int64_t tick) {
    for (auto it = starting_.begin(); it != starting_.end();) {
      if (it->second <= tick) {
        estimator_.observeColdStart(static_cast<double>(it->second - it->first) * kTick);
        it = starting_.erase(it);
      } else {
        ++it;
      }
    }
  }

  int desiredAt(int64_t tick, int current) {
    if (policy_ == Policy::kSluice) recordColdStarts(tick);
    if (policy_ == Policy::kSluice && tick >= nextCheck_) {
      autoscaler::ScaleDecision d = engine_.decide(current, {observeWithRates(tick)});
      if (!d.metrics.empty() && d.metrics[0].rateRule) ++result_.rateRuleDecisions;
      if (!d.metrics.empty()) result_.perReplicaRate = d.metrics[0].perReplicaRate.value_or(0);
      bursting_ = d.burst;
      nextCheck_ = tick + ticksFor(d.nextCheckAfter);
      return d.desiredReplicas;
    }
    if (policy_ == Policy::kKedaDefault) return kedaDesiredAt(tick, current);
    return current;
  }

  // KEDA: the operator's loop (activation at zero, N -> 0 after cooldown) every 30 s, the HPA every 15 s.
  int kedaDesiredAt(int64_t tick, int current) {
    int desired = current;
    const bool active = backlog_ > function_.activationThreshold;
    if (tick >= kedaNextOperatorCheck_) {
      kedaNextOperatorCheck_ = tick + 30 * kTicksPerSecond;
      if (active) kedaLastActive_ = tick;
      if (current == 0 && active) {
        desired = std::max(1, function_.policy.minReplicas);
        kedaNextHpaSync_ = tick + 15 * kTicksPerSecond;
      } else if (current > 0 && !active && tick - kedaLastActive_ >= 300 * kTicksPerSecond &&
                 function_.policy.minReplicas == 0) {
        desired = 0;  // KEDA's N -> 0 jump, bypassing the HPA's scale-down rules
      }
    }
    if (current > 0 && desired != 0 && tick >= kedaNextHpaSync_) {
      kedaNextHpaSync_ = tick + 15 * kTicksPerSecond;
      desired = engine_.decide(current, {observe(tick)}).desiredReplicas;
    }
    return desired;
  }

  void resize(int64_t tick, int current, int desired) {
    if (desired > current) {
      ++result_.scaleEvents;
      int warm = 0;
      for (int i = current; i < desired; ++i) {
        if (pool_->take(tick)) {
          ++warm;
          replicas_.push_back(tick + ticksFor(trace_.warmStartSeconds));
        } else {
          replicas_.push_back(tick + ticksFor(trace_.coldStartSeconds));
        }
        starting_.emplace_back(tick, replicas_.back());
      }
      pool_->recordStarts(desired - current, warm, tick);
    } else if (desired < current) {
      ++result_.scaleEvents;
      // Starting replicas go first, then the most recently started.
      std::sort(replicas_.begin(), replicas_.end());
      replicas_.resize(static_cast<size_t>(desired));
    }
  }

  void serve(int64_t tick, double now) {
    int ready = 0;
    for (int64_t readyAt : replicas_) ready += readyAt <= tick ? 1 : 0;
    int working = trace_.partitions > 0 ? std::min(ready, trace_.partitions) : ready;
    double capacity = working * trace_.serviceRatePerReplica * kTick;
    while (capacity > 1e-12 && !queue_.empty()) {
      Chunk& front = queue_.front();
      double take = std::min(capacity, front.events);
      latencies_.emplace_back(now + kTick - front.arrivedAt, take);
      served_ += take;
      front.events -= take;
      capacity -= take;
      backlog_ -= take;
      if (front.events <= 1e-12) queue_.pop_front();
    }
    if (backlog_ < 1e-9) backlog_ = 0;
    result_.backlogMax = std::max(result_.backlogMax, backlog_);
    result_.replicaSeconds += static_cast<double>(replicas_.size()) * kTick;
    if (bursting_) result_.burstSeconds += kTick;
    if (ownPool_) result_.warmPoolReplicaSeconds += ownPool_->pods() * kTick;
    if ((tick + 1) % kTicksPerSecond == 0) result_.replicasPerSecond.push_back(static_cast<int>(replicas_.size()));
    result_.durationSeconds = now + kTick;
  }

  const Trace& trace_;
  const SimulatedFunction& function_;
  const Policy policy_;
  SimulatedClock clock_;
  autoscaler::DecisionEngine engine_;
  SimulationResult result_;
  std::optional<WarmPool> ownPool_;
  WarmPool* pool_ = nullptr;
  std::deque<Chunk> queue_;
  double backlog_ = 0;
  std::vector<int64_t> replicas_;                      // the tick each replica is ready at
  std::vector<std::pair<int64_t, int64_t>> starting_;  // (started, ready) ticks of scale-ups not yet ready
  autoscaler::RateEstimator estimator_;
  std::vector<std::pair<double, double>> latencies_;  // (latency, events)
  double served_ = 0;
  int64_t nextCheck_ = 0;
  bool bursting_ = false;  // the last decision's burst mode
  int64_t kedaNextOperatorCheck_ = 0;
  int64_t kedaNextHpaSync_ = 0;
  int64_t kedaLastActive_ = 0;
};

}  // namespace

SimulationResult simulate(const Trace& trace, const SimulatedFunction& function, Policy policy) {
  return Simulation(trace, function, policy).run();
}

SharedPoolResult simulateSharedPool(const Trace& trace, const SimulatedFunction& function, const SharedPoolRun& run) {
  const bool demand = run.sizing == PoolSizing::kDemand;
  WarmPool pool(demand ? 0 : trace.warmPool, ticksFor(trace.coldStartSeconds),
                demand ? std::optional<autoscaler::WarmPoolSizing>(run.demand) : std::nullopt);
  // Function i's trace, rotated by i x staggerSeconds (kept alive for its Simulation).
  std::vector<Trace> traces(static_cast<size_t>(std::max(run.functions, 1)), trace);
  std::vector<std::unique_ptr<Simulation>> simulations;
  for (size_t i = 0; i < traces.size(); ++i) {
    std::vector<double>& arrivals = traces[i].arrivals;
    if (!arrivals.empty()) {
      const auto shift = static_cast<size_t>(std::llround(i * run.staggerSeconds)) % arrivals.size();
      std::rotate(arrivals.begin(), arrivals.begin() + static_cast<std::ptrdiff_t>(shift), arrivals.end());
    }
    simulations.push_back(std::make_unique<Simulation>(traces[i], function, Policy::kSluice, &pool));
  }
  SharedPoolResult out;
  out.sizing = demand ? "demand" : "fixed";
  for (int64_t tick = 0;; ++tick) {
    bool any = false;
    pool.step(tick);
    for (auto& simulation : simulations) {
      if (simulation->done(tick)) continue;
      any = true;
      simulation->step(tick);
    }
    if (!any) break;
    out.warmPoolReplicaSeconds += pool.pods() * kTick;
    out.durationSeconds = (tick + 1) * kTick;
  }
  for (auto& simulation : simulations) {
    const SimulationResult r = simulation->finish();
    out.replicaSeconds += r.replicaSeconds;
    out.latencyP99Seconds = std::max(out.latencyP99Seconds, r.latencyP99Seconds);
  }
  out.starts = pool.starts();
  out.startsWarm = pool.startsWarm();
  out.poolSizeMax = demand ? pool.sizeMax() : trace.warmPool;
  return out;
}

std::string toJson(const SharedPoolResult& r) {
  nlohmann::json out;
  out["sizing"] = r.sizing;
  out["replica_seconds"] = round3(r.replicaSeconds);
  out["warm_pool_replica_seconds"] = round3(r.warmPoolReplicaSeconds);
  out["latency_p99_s"] = round3(r.latencyP99Seconds);
  out["starts"] = r.starts;
  out["starts_warm"] = r.startsWarm;
  out["pool_size_max"] = r.poolSizeMax;
  out["duration_s"] = round3(r.durationSeconds);
  return out.dump();
}

std::string toJson(const SimulationResult& r) {
  nlohmann::json out;
  out["policy"] = r.policy;
  out["replica_seconds"] = round3(r.replicaSeconds);
  out["warm_pool_replica_seconds"] = round3(r.warmPoolReplicaSeconds);
  out["latency_p50_s"] = round3(r.latencyP50Seconds);
  out["latency_p99_s"] = round3(r.latencyP99Seconds);
  out["backlog_max"] = round3(r.backlogMax);
  out["scale_events"] = r.scaleEvents;
  out["events_total"] = round3(r.eventsTotal);
  out["duration_s"] = round3(r.durationSeconds);
  out["replicas"] = r.replicasPerSecond;
  out["metric"] = r.metric;
  out["burst_s"] = round3(r.burstSeconds);
  out["rate_rule_decisions"] = r.rateRuleDecisions;
  out["per_replica_rate"] = round3(r.perReplicaRate);
  return out.dump();
}

}  // namespace sluice::simulator
