#include "controllers/autoscaler/autoscale_reconciler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/logging.h"
#include "common/time.h"
#include "spec/function_triggers.h"
#include "spec/resources.h"

namespace sluice::controllers {

using nlohmann::json;

namespace {

// How often a Trigger whose scaler could not be built is tried again: each try
// reads Secrets from the apiserver, which a 500 ms activation check should not.
constexpr auto kRebuildInterval = std::chrono::seconds(5);
// A scaler that keeps failing is built afresh (re-reading its Secrets) at most
// this often: a new Kafka client per 1.5 s of a broker outage would only add load.
constexpr auto kRebuildFailingInterval = std::chrono::seconds(30);
// status.lastActiveTime moves on at most this often while work continues. Stamped every round,
// it made each round of a busy Function a status write: at 1,000 Functions, 33 writes a second
// with nothing changing (BENCHMARKS.md, "Scale").
constexpr auto kLastActiveRefresh = std::chrono::seconds(60);
// ... and this often when the count is held (pinned or paused): no cooldown reads the stamp then, and
// at 1,000 pinned Kafka Functions the minute's refresh was most of the idle operator's apiserver
// requests (8 of 12 a second, BENCHMARKS.md "Scale").
constexpr auto kHeldLastActiveRefresh = std::chrono::minutes(5);
// The CPU metric's name in status.metrics and the scaler series: upper case,
// so it can never be a Trigger's name (those are DNS-1123 lower case).
constexpr const char* kCpuMetric = "CPU";

double secondsBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string nameOf(const json& object) { return object.value("/metadata/name"_json_pointer, std::string()); }

long long generationOf(const json& object) { return object.value("/metadata/generation"_json_pointer, 0LL); }

}  // namespace

std::string formatMetricValue(double value) {
  if (!std::isfinite(value)) return "NaN";
  if (value == std::floor(value) && std::abs(value) < 1e15) return std::to_string(static_cast<long long>(value));
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

AutoscaleReconciler::AutoscaleReconciler(AutoscaleReconcilerOptions options, kube::ResourceClient& client,
                                         AutoscaleCaches caches, ScalerFactory& factory,
                                         reconcile::EventRecorder& events, autoscaler::AutoscalerMetrics* metrics,
                                         Clock& clock)
    : options_(std::move(options)),
      client_(client),
      caches_(caches),
      factory_(factory),
      events_(events),
      metrics_(metrics),
      clock_(clock) {}

std::shared_ptr<AutoscaleReconciler::FunctionState> AutoscaleReconciler::stateFor(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = states_[key];
  if (!slot) slot = std::make_shared<FunctionState>();
  return slot;
}

void AutoscaleReconciler::wake(const std::string& key) {
  std::lock_guard lock(mu_);
  woken_.insert(key);
}

std::optional<autoscaler::ScaleDecision> AutoscaleReconciler::lastDecision(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = states_.find(key);
  if (it == states_.end()) return std::nullopt;
  return it->second->lastDecision;
}

void AutoscaleReconciler::syncTriggers(FunctionState& state, const std::vector<kube::ObjectPtr>& triggers) {
  const Clock::TimePoint now = clock_.now();
  std::map<std::string, TriggerState> next;
  for (const kube::ObjectPtr& trigger : triggers) {
    const std::string name = nameOf(*trigger);
    const std::string uid = trigger->value("/metadata/uid"_json_pointer, std::string());
    const long long generation = generationOf(*trigger);
    TriggerState current;
    if (auto it = state.triggers.find(name); it != state.triggers.end()) current = std::move(it->second);
    const bool changed = current.uid != uid || current.generation != generation;
    const bool broken = !current.scaler && !current.buildError.empty() && now - current.builtAt >= kRebuildInterval;
    const bool failing = current.scaler && current.consecutiveErrors >= options_.rebuildAfterErrors &&
                         now - current.builtAt >= kRebuildFailingInterval;
    if (changed || broken || failing || current.uid.empty()) {
      json written = changed ? json() : std::move(current.writtenStatus);
      current = TriggerState{};
      current.uid = uid;
      current.generation = generation;
      current.writtenStatus = std::move(written);
      current.builtAt = now;
      Result<std::unique_ptr<scalers::Scaler>> built = factory_.create(*trigger);
      if (built.isOk()) {
        current.scaler = std::move(*built);
      } else {
        current.buildError = "Trigger " + name + ": " + built.status().toString();
        SLUICE_LOG_WARN("autoscaler: {}", current.buildError);
      }
    }
    next.emplace(name, std::move(current));
  }
  state.triggers = std::move(next);
}

void AutoscaleReconciler::syncCpu(FunctionState& state, const json& function, bool wanted) {
  const long long generation = generationOf(function);
  TriggerState& cpu = state.cpu;
  if (!wanted) {
    cpu = TriggerState{};
    return;
  }
  const Clock::TimePoint now = clock_.now();
  const bool broken = !cpu.scaler && !cpu.buildError.empty() && now - cpu.builtAt >= kRebuildInterval;
  if (cpu.generation == generation && !cpu.uid.empty() && !broken) return;
  cpu = TriggerState{};
  cpu.uid = kCpuMetric;
  cpu.generation = generation;
  cpu.builtAt = now;
  Result<std::unique_ptr<scalers::Scaler>> built = factory_.createCpu(function);
  if (built.isOk()) {
    cpu.scaler = std::move(*built);
  } else {
    cpu.buildError = std::string(kCpuMetric) + ": " + built.status().toString();
    SLUICE_LOG_WARN("autoscaler: {}: {}", kube::objectKey(function), cpu.buildError);
  }
}

autoscaler::MetricObservation AutoscaleReconciler::observe(const std::string& key, const std::string& name,
                                                           TriggerState& t) {
  autoscaler::MetricObservation observation;
  if (t.scaler) {
    const Clock::TimePoint before = clock_.now();
    observation = scalers::observe(*t.scaler);
    if (metrics_) metrics_->recordScalerRead(key, name, secondsBetween(before, clock_.now()));
    if (observation.value) {
      t.consecutiveErrors = 0;
    } else {
      ++t.consecutiveErrors;
      observation.error = (name == kCpuMetric ? "" : "Trigger ") + name + ": " + observation.error;
    }
  } else {
    observation.error = t.buildError;
  }
  // The Trigger's name is what users know; it is also stable across rebuilds.
  observation.name = name;
  return observation;
}

void AutoscaleReconciler::measureRates(FunctionState& state, std::vector<autoscaler::MetricObservation>& observations,
                                       int readyReplicas) {
  for (autoscaler::MetricObservation& observation : observations) {
    auto t = state.triggers.find(observation.name);
    if (t == state.triggers.end() || !observation.value) continue;
    if (!observation.processedTotal && !observation.arrivedTotal) continue;
    t->second.rates.measure(observation, readyReplicas, clock_.now());
  }
}

void AutoscaleReconciler::measureColdStart(FunctionState& state, int readyReplicas, int current,
                                           const autoscaler::ScaleDecision& decision) {
  // A held count is the user's, and the loop looks at it only once a minute (kHeldCountCheckInterval):
  // every cold start of a pinned Function read as that minute (coldStartSeconds 59.99 in its status,
  // and a status write for it).
  if (decision.held) {
    state.pendingScaleUp.reset();
    return;
  }
  const Clock::TimePoint now = clock_.now();
  if (state.pendingScaleUp && readyReplicas >= state.pendingScaleUp->second) {
    const double seconds = secondsBetween(state.pendingScaleUp->first, now);
    for (auto& [name, t] : state.triggers) t.rates.observeColdStart(seconds);
    state.pendingScaleUp.reset();
  }
  // A scale-down before the replicas were ready leaves nothing to measure.
  const int desired = decision.desiredReplicas;
  if (state.pendingScaleUp && desired < state.pendingScaleUp->second) state.pendingScaleUp.reset();
  if (desired > current && !state.pendingScaleUp) state.pendingScaleUp = std::make_pair(now, desired);
}

std::shared_ptr<AutoscaleReconciler::FunctionState> AutoscaleReconciler::stateOf(const std::string& key,
                                                                                 const std::string& uid) {
  std::shared_ptr<FunctionState> state = stateFor(key);
  if (state->uid != uid) {
    std::lock_guard lock(mu_);
    *state = FunctionState{};
    state->uid = uid;
  }
  return state;
}

bool AutoscaleReconciler::syncScalers(const std::string& key, FunctionState& state, const json& function,
                                      const std::vector<kube::ObjectPtr>& triggers, bool scalesOnCpu) {
  syncTriggers(state, triggers);
  syncCpu(state, function, scalesOnCpu);
  bool measurable = state.cpu.scaler || !state.cpu.buildError.empty();
  for (const auto& [triggerName, t] : state.triggers) {
    if (t.scaler || !t.buildError.empty()) measurable = true;
  }
  if (!measurable) {
    // Nothing to measure: leave desiredReplicas to whoever sets it (or an http activator).
    if (state.engine) SLUICE_LOG_INFO("autoscaler: {}: no measurable Trigger left; not scaling it", key);
    state.engine.reset();
    state.desired.reset();
  }
  return measurable;
}

AutoscaleReconciler::Observations AutoscaleReconciler::measure(const std::string& key, FunctionState& state) {
  Observations byMetric;
  for (auto& [triggerName, t] : state.triggers) {
    if (!t.scaler && t.buildError.empty()) continue;  // http: nothing to measure
    byMetric[triggerName] = observe(key, triggerName, t);
  }
  if (state.cpu.scaler || !state.cpu.buildError.empty()) byMetric[kCpuMetric] = observe(key, kCpuMetric, state.cpu);
  return byMetric;
}

int AutoscaleReconciler::currentReplicas(const FunctionState& state, const api::v1alpha1::Function& function) {
  if (state.desired) return *state.desired;
  return function.status.desiredReplicas.value_or(function.status.replicas);
}

Status AutoscaleReconciler::publish(const std::string& key, const json& function, FunctionState& state, int current,
                                    const autoscaler::ScaleDecision& decision, const Observations& observations) {
  Status written = writeFunctionStatus(function, state, decision, observations);
  if (!written.isOk()) {
    SLUICE_LOG_WARN("autoscaler: {}: writing status: {}", key, written.toString());
    return written;
  }
  state.desired = decision.desiredReplicas;
  if (decision.desiredReplicas != current) {
    const std::string transition = std::to_string(current) + " -> " + std::to_string(decision.desiredReplicas);
    std::string message =
        decision.message.rfind(transition, 0) == 0 ? decision.message : transition + ": " + decision.message;
    SLUICE_LOG_INFO("autoscaler: {}: desired replicas {} ({})", key, message, decision.reason);
    events_.record(function, decision.fallback ? "Warning" : "Normal", decision.reason, "desired replicas " + message);
  }
  return written;
}

void AutoscaleReconciler::writeTriggerStatuses(const std::vector<kube::ObjectPtr>& triggers, FunctionState& state,
                                               const autoscaler::ScaleDecision& decision,
                                               const Observations& observations) {
  for (const kube::ObjectPtr& trigger : triggers) {
    auto it = state.triggers.find(nameOf(*trigger));
    if (it == state.triggers.end()) continue;
    auto observed = observations.find(it->first);
    const autoscaler::MetricObservation* observation = observed == observations.end() ? nullptr : &observed->second;
    bool active = false;
    for (const autoscaler::MetricResult& m : decision.metrics) {
      if (m.name == it->first) active = m.active;
    }
    writeTriggerStatus(*trigger, it->second, observation, active);
  }
}

autoscaler::ScalingPolicy AutoscaleReconciler::policyFor(const api::v1alpha1::Function& function) const {
  // The operator's at-zero interval, when set, stands for each Function's own, so the engine
  // decides every cadence (a count that is the user's keeps its slow one even at zero).
  autoscaler::ScalingPolicy policy = function.scaling;
  if (options_.atZeroCheckInterval > Clock::Duration::zero()) {
    policy.activationIntervalMilliseconds =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(options_.atZeroCheckInterval).count());
  }
  return policy;
}

reconcile::ReconcileResult AutoscaleReconciler::reconcile(const std::string& key) {
  const Clock::TimePoint start = clock_.now();
  kube::ObjectPtr fn = caches_.functions.get(key);
  if (!fn || api::v1alpha1::ObjectMeta::of(*fn).deleting) {
    std::lock_guard lock(mu_);
    states_.erase(key);  // closes its scalers' connections
    woken_.erase(key);
    return reconcile::ReconcileResult::done();
  }
  const json& object = *fn;
  const api::v1alpha1::ObjectMeta meta = api::v1alpha1::ObjectMeta::of(object);
  std::shared_ptr<FunctionState> state = stateOf(key, meta.uid);

  // Skip a watch event between rounds when nothing this loop reads has changed.
  const std::vector<kube::ObjectPtr> triggers = spec::triggersOf(caches_.triggers, meta.ns, meta.name);
  std::string fingerprint = std::to_string(meta.generation);
  for (const kube::ObjectPtr& t : triggers) {
    fingerprint += "|" + nameOf(*t) + ":" + t->value("/metadata/uid"_json_pointer, std::string()) + ":" +
                   std::to_string(generationOf(*t));
  }
  bool woken = false;
  {
    std::lock_guard lock(mu_);
    woken = woken_.erase(key) > 0;
  }
  if (fingerprint == state->fingerprint) {
    if (!state->nextDue) return reconcile::ReconcileResult::done();
    if (start < *state->nextDue && !woken) return reconcile::ReconcileResult::requeueAfter(*state->nextDue - start);
  }
  state->fingerprint = fingerprint;
  state->nextDue.reset();

  Result<api::v1alpha1::Function> function = api::v1alpha1::Function::fromJson(object);
  if (!function.isOk()) {
    events_.record(object, "Warning", "InvalidScaling", function.status().message());
    return reconcile::ReconcileResult::terminalError(function.status().withContext("Function " + key));
  }
  if (!syncScalers(key, *state, object, triggers, function->scalesOnCpu())) return reconcile::ReconcileResult::done();
  if (!state->engine) {
    state->engine = std::make_unique<autoscaler::DecisionEngine>(policyFor(*function), clock_);
  } else {
    state->engine->setPolicy(policyFor(*function));
  }

  const Observations byMetric = measure(key, *state);
  std::vector<autoscaler::MetricObservation> observations;  // the Triggers by name, then CPU
  for (const auto& [name, t] : state->triggers) {
    if (auto it = byMetric.find(name); it != byMetric.end()) observations.push_back(it->second);
  }
  if (auto cpu = byMetric.find(kCpuMetric); cpu != byMetric.end()) observations.push_back(cpu->second);
  const int current = currentReplicas(*state, *function);
  measureRates(*state, observations, function->status.readyReplicas);
  autoscaler::ScaleDecision decision = state->engine->decide(current, observations);
  measureColdStart(*state, function->status.readyReplicas, current, decision);
  Status written = publish(key, object, *state, current, decision, byMetric);
  writeTriggerStatuses(triggers, *state, decision, byMetric);

  if (metrics_) {
    metrics_->recordDecision(key, decision);
    metrics_->recordLoop(secondsBetween(start, clock_.now()));
  }
  {
    std::lock_guard lock(mu_);
    state->lastDecision = decision;
  }
  if (!written.isOk()) {
    // The engine already counted this change; re-measure soon instead of trusting it. The retry
    // must measure again: with the fingerprint kept and no next check it would stop, and the
    // Function would not be scaled again until its spec or Triggers changed.
    state->fingerprint.clear();
    return reconcile::ReconcileResult::error(written);
  }
  const Clock::Duration next = decision.nextCheckAfter;
  state->nextDue = start + next;
  return reconcile::ReconcileResult::requeueAfter(next);
}

Status AutoscaleReconciler::writeFunctionStatus(
    const json& function, FunctionState& state, const autoscaler::ScaleDecision& decision,
    const std::map<std::string, autoscaler::MetricObservation>& observations) {
  json metrics = json::array();
  for (const autoscaler::MetricResult& m : decision.metrics) {
    json entry = {{"trigger", m.name}, {"desiredReplicas", m.desiredReplicas}};
    entry["value"] = m.value ? formatMetricValue(*m.value) : std::string("unknown");
    if (m.arrivalRate) entry["arrivalRate"] = formatMetricValue(*m.arrivalRate);
    if (m.perReplicaRate) entry["perReplicaRate"] = formatMetricValue(*m.perReplicaRate);
    if (m.arrivalRate || m.perReplicaRate) entry["rule"] = m.rateRule ? "rate" : "backlog";
    if (m.coldStartSeconds) entry["coldStartSeconds"] = formatMetricValue(*m.coldStartSeconds);
    if (auto it = observations.find(m.name); it != observations.end()) {
      entry["target"] = formatMetricValue(it->second.target);
    }
    metrics.push_back(std::move(entry));
  }
  json status = {{"desiredReplicas", decision.desiredReplicas}, {"metrics", std::move(metrics)}};
  if (decision.active) {
    const auto now = clock_.wallNow();
    const auto refresh = decision.held ? kHeldLastActiveRefresh : kLastActiveRefresh;
    if (!state.lastActiveStamp || now - *state.lastActiveStamp >= refresh) state.lastActiveStamp = now;
    status["lastActiveTime"] = rfc3339(*state.lastActiveStamp);
  }
  const json& live = function.contains("status") ? function["status"] : json::object();
  bool same = status == state.writtenStatus || (state.writtenStatus.is_null() && [&] {
                // After a restart: the object already says this.
                for (const auto& [field, value] : status.items()) {
                  if (!live.contains(field) || live[field] != value) return false;
                }
                return true;
              }());
  if (same) return Status::ok();
  Result<json> patched = client_.patch(
      spec::kFunctions, function.value("/metadata/namespace"_json_pointer, std::string()), nameOf(function),
      kube::PatchType::kMerge, json{{"status", status}}, kube::PatchOptions{options_.fieldManager, false, "status"});
  if (!patched.isOk()) return patched.status();
  state.writtenStatus = std::move(status);
  return Status::ok();
}

void AutoscaleReconciler::writeTriggerStatus(const json& trigger, TriggerState& state,
                                             const autoscaler::MetricObservation* observation, bool active) {
  // Only the metric fields: sourceType, observedGeneration and the conditions
  // (Ready, SourceReachable) belong to the TriggerController. A failed read
  // leaves the last measurement in place; the failure shows in the Function's
  // status.metrics, the log and the scaler error counter.
  if (!observation || !observation->value) return;
  json status = {{"metricValue", formatMetricValue(*observation->value)}, {"active", active}};
  if (status == state.writtenStatus) return;
  if (state.writtenStatus.is_null()) {
    // After a restart: the object may already say this.
    const json live = trigger.value("status", json::object());
    if (live.value("metricValue", json()) == status["metricValue"] &&
        live.value("active", json()) == status["active"]) {
      state.writtenStatus = std::move(status);
      return;
    }
  }
  Result<json> patched = client_.patch(
      spec::kTriggers, trigger.value("/metadata/namespace"_json_pointer, std::string()), nameOf(trigger),
      kube::PatchType::kMerge, json{{"status", status}}, kube::PatchOptions{options_.fieldManager, false, "status"});
  if (!patched.isOk()) {
    SLUICE_LOG_WARN("autoscaler: Trigger {}: writing status: {}", kube::objectKey(trigger),
                    patched.status().toString());
    return;
  }
  state.writtenStatus = std::move(status);
}

}  // namespace sluice::controllers
