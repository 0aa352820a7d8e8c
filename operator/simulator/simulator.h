// Autoscaling simulator: the DecisionEngine on a simulated clock against a
// recorded or synthetic arrival trace, to compare policies on the same work.
//
// Model (fluid, 100 ms steps): events arrive evenly within each second of
// `arrivals` into one FIFO backlog; every ready replica serves
// `service_rate_per_replica` events/s, and with `partitions` > 0 at most that
// many replicas can work (Kafka assigns a partition to one consumer). A new
// replica is ready after `cold_start_seconds`, or `warm_start_seconds` when a
// warm-pool pod is adopted (the pool refills after a cold start). An event's
// latency is the end of the step that serves it minus its arrival time. The
// scaler's metric is the backlog (Kafka lag, queue depth). The run lasts the
// trace, then continues with no arrivals until the backlog is empty (at most an
// hour), so every event's latency is counted.
//
// Policies: kSluice (the engine with the Function's policy, warm pool from the
// trace's warm_pool), kKedaDefault (KEDA's defaults: activation checked every 30 s and
// 0 -> 1, HPA every 15 s with its default behaviour and no burst, all replicas
// dropped to 0 after 300 s inactive) and kStaticPeak (always the replicas the
// peak second needs, ready from the start). Pure: no I/O, deterministic.
#pragma once

#include <string>
#include <vector>

#include "autoscaler/scaling_policy.h"
#include "autoscaler/warm_pool_sizer.h"
#include "common/status.h"

namespace sluice::simulator {

struct Trace {
  double serviceRatePerReplica = 0;
  double coldStartSeconds = 0;
  double warmStartSeconds = 0;
  int warmPool = 0;
  int partitions = 0;  // 0: no partition cap
  std::vector<double> arrivals;
};

// Parses TRACE.json; errors name the field ("trace.arrivals[3]: -1 is negative").
Result<Trace> parseTrace(const std::string& json);

// What the simulator needs from a Function (and its Trigger, if in the same file).
// The metric the Function scales on: a backlog (Kafka lag, queue depth,
// objects waiting), or for an http Trigger the requests at once (queued or
// being served) or the arrival rate, both averaged by the engine over the
// burst policy's stable and panic windows as Knative's KPA.
enum class SimulatedMetric { kBacklog, kHttpConcurrency, kHttpRequestsPerSecond };

struct SimulatedFunction {
  autoscaler::ScalingPolicy policy;
  SimulatedMetric metric = SimulatedMetric::kBacklog;
  // lagThreshold / queueLength / targetObjectCount; targetConcurrency (else
  // spec.concurrency) / targetRequestsPerSecond
  double targetPerReplica = 10;
  double activationThreshold = 0;
};

// Parses FUNCTION.yaml: a sluice.io/v1alpha1 Function (spec.scaling...), optionally
// followed by Trigger documents whose kafka.lagThreshold, rabbitmq.queueLength,
// objectStore.targetObjectCount or http.targetConcurrency / targetRequestsPerSecond
// give the metric and per-replica target. Errors name the field.
Result<SimulatedFunction> parseFunction(const std::string& yaml);

enum class Policy { kSluice, kKedaDefault, kStaticPeak };
Result<Policy> parsePolicy(const std::string& name);
const char* policyName(Policy policy);

struct SimulationResult {
  std::string policy;
  double replicaSeconds = 0;
  double warmPoolReplicaSeconds = 0;
  double latencyP50Seconds = 0;
  double latencyP99Seconds = 0;
  double backlogMax = 0;
  int scaleEvents = 0;
  double eventsTotal = 0;
  double durationSeconds = 0;
  std::vector<int> replicasPerSecond;  // replicas (starting or ready) at the end of each second
  std::string metric;                  // backlog, http-concurrency or http-rps
  double burstSeconds = 0;             // time the engine spent in burst (panic) mode
  int rateRuleDecisions = 0;           // decisions whose count came from the rate rule
  double perReplicaRate = 0;           // the last measured per-replica rate (0: never measured)
};

SimulationResult simulate(const Trace& trace, const SimulatedFunction& function, Policy policy);

// N Functions on one warm pool (issue 19): `functions` copies of the Function,
// copy i seeing the trace rotated by i x staggerSeconds, each run by the
// engine (Policy::kSluice), all adopting from one pool of their shape.
// kFixed keeps trace.warmPool pods (the old per-namespace count); kDemand sizes
// it each second with autoscaler::WarmPoolSizer, the WarmPoolController's code,
// from the starts of all of them. A pool pod adopted or added is ready (again)
// after trace.coldStartSeconds; pods over a smaller size go at once.
enum class PoolSizing { kFixed, kDemand };
struct SharedPoolRun {
  int functions = 1;
  double staggerSeconds = 0;
  PoolSizing sizing = PoolSizing::kFixed;
  autoscaler::WarmPoolSizing demand;  // kDemand's floor, ceiling, window, pod start
};
struct SharedPoolResult {
  std::string sizing;                 // fixed or demand
  double replicaSeconds = 0;          // the Functions' own, summed
  double warmPoolReplicaSeconds = 0;  // pool pods existing (ready or starting)
  double latencyP99Seconds = 0;       // the worst Function's p99
  int starts = 0;                     // new replicas the Functions needed
  int startsWarm = 0;                 // of them served by the pool
  int poolSizeMax = 0;
  double durationSeconds = 0;
};
SharedPoolResult simulateSharedPool(const Trace& trace, const SimulatedFunction& function, const SharedPoolRun& run);
std::string toJson(const SharedPoolResult& result);

// The result as the JSON the CLI prints.
std::string toJson(const SimulationResult& result);

}  // namespace sluice::simulator
