#include "simulator/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>

#include <nlohmann/json.hpp>

#include "autoscaler/decision_engine.h"
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

}  // namespace

SimulationResult simulate(const Trace& trace, const SimulatedFunction& function, Policy policy) {
  SimulationResult result;
  result.policy = policyName(policy);
  result.metric = function.metric == SimulatedMetric::kBacklog           ? "backlog"
                  : function.metric == SimulatedMetric::kHttpConcurrency ? "http-concurrency"
                                                                         : "http-rps";
  SimulatedClock clock;

  autoscaler::ScalingPolicy enginePolicy = function.policy;
  int warmPool = 0;
  if (policy == Policy::kSluice) {
    // The trace describes the platform, warm pool included (the pool is shared by every Function
    // of a runtime image, so its size is the platform's, not one Function's).
    warmPool = trace.warmPool;
  } else if (policy == Policy::kKedaDefault) {
    // The HPA KEDA generates: min 1 (KEDA itself handles 0 <-> 1), HPA defaults, no burst.
    enginePolicy = autoscaler::ScalingPolicy{};
    enginePolicy.minReplicas = 1;
    enginePolicy.maxReplicas = function.policy.maxReplicas;
    enginePolicy.pollingIntervalSeconds = 15;
    enginePolicy.burst.enabled = false;
  }
  autoscaler::DecisionEngine engine(enginePolicy, clock);

  // Metric: the backlog, capped like KEDA's Kafka scaler at partitions x target;
  // for http, the requests waiting or being served (the fluid backlog) or the
  // arrival rate of the current second, averaged by the engine over its windows.
  auto observe = [&](double backlog, double arrivalRate) {
    autoscaler::MetricObservation m;
    m.name = "backlog";
    m.target = function.targetPerReplica;
    m.activationThreshold = function.activationThreshold;
    double value = backlog;
    if (trace.partitions > 0) value = std::min(value, trace.partitions * function.targetPerReplica);
    if (function.metric != SimulatedMetric::kBacklog) {
      m.name = function.metric == SimulatedMetric::kHttpConcurrency ? "http-concurrency" : "http-rps";
      m.windowed = policy == Policy::kSluice;
      if (function.metric == SimulatedMetric::kHttpRequestsPerSecond) {
        value = arrivalRate;
        m.active = arrivalRate > 0 || backlog > 0;
      }
    }
    m.value = value;
    return m;
  };
  auto rateAt = [&](int64_t tick) {
    const auto second = static_cast<size_t>(tick / kTicksPerSecond);
    return second < trace.arrivals.size() ? trace.arrivals[second] : 0.0;
  };

  std::deque<Chunk> queue;
  double backlog = 0;
  std::vector<int64_t> replicas;  // the tick each replica is ready at
  int warmAvailable = warmPool;
  std::vector<int64_t> warmRefills;
  std::vector<std::pair<double, double>> latencies;
  double served = 0;

  if (policy == Policy::kStaticPeak) {
    double peak = *std::max_element(trace.arrivals.begin(), trace.arrivals.end());
    int needed = std::max(1, static_cast<int>(std::ceil(peak / trace.serviceRatePerReplica - 1e-9)));
    if (trace.partitions > 0) needed = std::min(needed, trace.partitions);
    replicas.assign(static_cast<size_t>(needed), 0);
  }

  int64_t nextCheck = 0;
  bool bursting = false;  // the last decision's burst mode
  // KEDA: the operator's loop (activation at zero, N -> 0 after cooldown) every 30 s, the HPA every 15 s.
  int64_t kedaNextOperatorCheck = 0;
  int64_t kedaNextHpaSync = 0;
  int64_t kedaLastActive = 0;
  const int64_t traceTicks = static_cast<int64_t>(trace.arrivals.size()) * kTicksPerSecond;

  for (int64_t tick = 0;; ++tick) {
    if (tick >= traceTicks && (backlog <= 1e-9 || tick >= traceTicks + kMaxDrainTicks)) break;
    clock.setTick(tick);
    const double now = tick * kTick;

    if (tick < traceTicks) {
      double arriving = trace.arrivals[static_cast<size_t>(tick / kTicksPerSecond)] / kTicksPerSecond;
      if (arriving > 0) {
        queue.push_back({now + kTick / 2, arriving});
        backlog += arriving;
        result.eventsTotal += arriving;
      }
    }
    // Warm-pool pods replaced by a cold start become available again.
    for (auto it = warmRefills.begin(); it != warmRefills.end();) {
      if (*it <= tick) {
        ++warmAvailable;
        it = warmRefills.erase(it);
      } else {
        ++it;
      }
    }

    const int current = static_cast<int>(replicas.size());
    int desired = current;
    if (policy == Policy::kSluice && tick >= nextCheck) {
      autoscaler::ScaleDecision d = engine.decide(current, {observe(backlog, rateAt(tick))});
      desired = d.desiredReplicas;
      bursting = d.burst;
      nextCheck = tick + ticksFor(d.nextCheckAfter);
    } else if (policy == Policy::kKedaDefault) {
      const bool active = backlog > function.activationThreshold;
      if (tick >= kedaNextOperatorCheck) {
        kedaNextOperatorCheck = tick + 30 * kTicksPerSecond;
        if (active) kedaLastActive = tick;
        if (current == 0 && active) {
          desired = std::max(1, function.policy.minReplicas);
          kedaNextHpaSync = tick + 15 * kTicksPerSecond;
        } else if (current > 0 && !active && tick - kedaLastActive >= 300 * kTicksPerSecond &&
                   function.policy.minReplicas == 0) {
          desired = 0;  // KEDA's N -> 0 jump, bypassing the HPA's scale-down rules
        }
      }
      if (current > 0 && desired != 0 && tick >= kedaNextHpaSync) {
        kedaNextHpaSync = tick + 15 * kTicksPerSecond;
        desired = engine.decide(current, {observe(backlog, rateAt(tick))}).desiredReplicas;
      }
    }

    if (desired > current) {
      ++result.scaleEvents;
      for (int i = current; i < desired; ++i) {
        if (warmAvailable > 0) {
          --warmAvailable;
          replicas.push_back(tick + ticksFor(trace.warmStartSeconds));
          warmRefills.push_back(tick + ticksFor(trace.coldStartSeconds));
        } else {
          replicas.push_back(tick + ticksFor(trace.coldStartSeconds));
        }
      }
    } else if (desired < current) {
      ++result.scaleEvents;
      // Starting replicas go first, then the most recently started.
      std::sort(replicas.begin(), replicas.end());
      replicas.resize(static_cast<size_t>(desired));
    }

    int ready = 0;
    for (int64_t readyAt : replicas) ready += readyAt <= tick ? 1 : 0;
    int working = trace.partitions > 0 ? std::min(ready, trace.partitions) : ready;
    double capacity = working * trace.serviceRatePerReplica * kTick;
    while (capacity > 1e-12 && !queue.empty()) {
      Chunk& front = queue.front();
      double take = std::min(capacity, front.events);
      latencies.emplace_back(now + kTick - front.arrivedAt, take);
      served += take;
      front.events -= take;
      capacity -= take;
      backlog -= take;
      if (front.events <= 1e-12) queue.pop_front();
    }
    if (backlog < 1e-9) backlog = 0;
    result.backlogMax = std::max(result.backlogMax, backlog);
    result.replicaSeconds += static_cast<double>(replicas.size()) * kTick;
    if (bursting) result.burstSeconds += kTick;
    result.warmPoolReplicaSeconds += warmPool * kTick;
    if ((tick + 1) % kTicksPerSecond == 0) result.replicasPerSecond.push_back(static_cast<int>(replicas.size()));
    result.durationSeconds = now + kTick;
  }

  result.latencyP50Seconds = quantile(latencies, served, 0.50);
  result.latencyP99Seconds = quantile(latencies, served, 0.99);
  return result;
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
  return out.dump();
}

}  // namespace sluice::simulator
