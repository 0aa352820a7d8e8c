#include "controllers/function/function_controller.h"

#include <algorithm>
#include <functional>

#include "api/conditions.h"
#include "api/function.h"
#include "api/pods.h"
#include "common/time.h"
#include "controllers/secrets/secret_check.h"
#include "spec/function_triggers.h"
#include "spec/resources.h"
#include "spec/runtime_config_render.h"

namespace sluice::controllers {

using nlohmann::json;

namespace {

// How long a reconcile waits for a settling platform before looking again (it
// normally hears sooner: the pod watch enqueues the Function itself).
constexpr auto kSettleRecheck = std::chrono::seconds(5);

}  // namespace

FunctionController::FunctionController(kube::ResourceClient& client, FunctionControllerCaches caches,
                                       platform::Platform& platform, reconcile::EventRecorder& events, Clock& clock,
                                       std::string gatewayUrl, std::string gatewayDomain)
    : client_(client),
      caches_(caches),
      platform_(platform),
      events_(events),
      clock_(clock),
      gatewayUrl_(std::move(gatewayUrl)),
      gatewayDomain_(std::move(gatewayDomain)) {}

std::vector<std::string> FunctionController::functionsOfTrigger(const json& trigger) {
  std::string name = trigger.value("/spec/functionRef/name"_json_pointer, std::string());
  if (name.empty()) return {};
  return {kube::objectKey(trigger.value("/metadata/namespace"_json_pointer, std::string("default")), name)};
}

json FunctionController::baseStatus(const json& function, const std::vector<json>& triggers) const {
  const std::string ns = function["metadata"].value("namespace", "default");
  const std::string name = function["metadata"].value("name", "");
  json status = {{"observedGeneration", function["metadata"].value("generation", 0LL)},
                 {"selector", std::string(api::kFunctionLabel) + "=" + name},
                 {"triggerCount", static_cast<int>(triggers.size())}};
  if (shardStamp_) status["shard"] = shardStamp_(kube::objectKey(ns, name));
  // The gateway's URL of a Function with an http Trigger; removed (merge patch null) when it has none any more.
  const bool routable = std::any_of(triggers.begin(), triggers.end(),
                                    [](const json& t) { return t.contains("/spec/http"_json_pointer); });
  if (routable && !gatewayUrl_.empty()) {
    status["url"] = api::functionUrl(gatewayUrl_, gatewayDomain_, ns, name);
  } else if (function.contains("/status/url"_json_pointer)) {
    status["url"] = nullptr;
  }
  return status;
}

// A spec the renderer or the platform refuses cannot be fixed by retrying: say so and wait for an edit.
reconcile::ReconcileResult FunctionController::refuse(const std::string& key, const json& function, json status,
                                                      const Status& why) {
  const long long generation = function["metadata"].value("generation", 0LL);
  const json previous = function.value("/status/conditions"_json_pointer, json::array());
  const std::string now = rfc3339(clock_.wallNow());
  const platform::ReplicaCounts counts = platform_.counts(key);
  const int live = counts.live();
  status["replicas"] = live;
  status["readyReplicas"] = counts.ready;
  status["conditions"] = json::array({
      api::condition(previous, "Ready", false, "InvalidSpec", why.message(), generation, now),
      api::condition(previous, "Active", live > 0, live > 0 ? "Active" : "ScaledToZero", "", generation, now),
      api::condition(previous, "Degraded", true, "InvalidSpec", why.message(), generation, now),
  });
  events_.record(function, "Warning", "InvalidSpec", why.message());
  if (Status written = writeStatus(function, status); !written.isOk()) {
    return reconcile::ReconcileResult::error(written);
  }
  return reconcile::ReconcileResult::terminalError(why);
}

json FunctionController::conditionsAfter(const json& function, const platform::ApplyOutcome& outcome, int desired,
                                         const Problem& problem) const {
  const long long generation = function["metadata"].value("generation", 0LL);
  const json previous = function.value("/status/conditions"_json_pointer, json::array());
  const std::string now = rfc3339(clock_.wallNow());
  const int live = outcome.counts.live();
  const int ready = outcome.counts.ready;
  bool allReady = ready >= desired && live == desired;
  std::string readyReason = desired == 0 ? "ScaledToZero" : (allReady ? "AllReplicasReady" : "ReplicasNotReady");
  std::string readyMessage = std::to_string(ready) + "/" + std::to_string(desired) + " replicas ready";
  std::string degradedReason = "AsExpected";
  std::string degradedMessage;
  if (!problem.reason.empty()) {
    // Something only a person can fix (a missing Secret key, a crash loop, an image): the reason is
    // named as is, so `kubectl wait --for=condition=Ready` and `kubectl get` show it, even at zero.
    allReady = false;
    readyReason = degradedReason = problem.reason;
    readyMessage += "; " + problem.message;
    degradedMessage = problem.message;
  } else if (!outcome.failure.empty()) {
    degradedReason = "PodChangeFailed";
    degradedMessage = outcome.failure;
  } else if (outcome.counts.failed > 0) {
    degradedReason = "ReplicaFailed";
    degradedMessage = std::to_string(outcome.counts.failed) + " replica pod(s) failed and are being replaced";
  }
  return json::array({
      api::condition(previous, "Ready", allReady, readyReason, readyMessage, generation, now),
      api::condition(previous, "Active", desired > 0, desired > 0 ? "Active" : "ScaledToZero",
                     std::to_string(desired) + " replicas desired", generation, now),
      api::condition(previous, "Degraded", degradedReason != "AsExpected", degradedReason, degradedMessage, generation,
                     now),
  });
}

reconcile::ReconcileResult FunctionController::reconcile(const std::string& key) {
  kube::ObjectPtr cached = caches_.functions.get(key);
  if (!cached || cached->contains("/metadata/deletionTimestamp"_json_pointer)) {
    platform_.forget(key);
    return reconcile::ReconcileResult::done();
  }
  const json& function = *cached;
  const std::string ns = function["metadata"].value("namespace", "default");
  const std::string name = function["metadata"].value("name", "");
  std::vector<json> triggers;
  for (const kube::ObjectPtr& t : spec::triggersOf(caches_.triggers, ns, name)) triggers.push_back(*t);
  const int desired = api::desiredReplicas(function);
  if (const Clock::Duration wait = triggerWait(function, triggers.size(), desired); wait > Clock::Duration::zero()) {
    return reconcile::ReconcileResult::requeueAfter(wait);
  }
  json status = baseStatus(function, triggers);

  auto rendered = spec::renderRuntimeConfig(function, triggers);
  if (!rendered.isOk()) return refuse(key, function, std::move(status), rendered.status());
  platform::ReplicaSpec replicaSpec;
  replicaSpec.key = key;
  replicaSpec.function = function;
  replicaSpec.rendered = std::move(*rendered);
  replicaSpec.desired = desired;
  auto applied = platform_.apply(replicaSpec);
  if (!applied.isOk()) {
    if (applied.status().code() == StatusCode::kInvalidArgument) {
      return refuse(key, function, std::move(status), applied.status());
    }
    return reconcile::ReconcileResult::error(applied.status());
  }
  const platform::ApplyOutcome& outcome = *applied;
  recordSteps(function, outcome, desired);
  status["replicas"] = outcome.counts.live();
  status["readyReplicas"] = outcome.counts.ready;
  if (outcome.counts.warm >= 0) status["warmReplicas"] = outcome.counts.warm;
  // Kept as it was while no replica is ready (at zero: what it last ran).
  if (!outcome.counts.imageDigest.empty()) status["imageDigest"] = outcome.counts.imageDigest;
  // The Secrets the replicas need are named before a pod waits on them; a missing one outranks what
  // the pods say, being its cause.
  auto secrets =
      checkSecrets(client_, ns, {}, api::v1alpha1::functionSecretKeys(function.value("spec", json::object())));
  if (!secrets.isOk()) return reconcile::ReconcileResult::error(secrets.status());
  const Problem problem = !secrets->reason.empty() ? Problem{secrets->reason, secrets->message}
                                                   : Problem{outcome.counts.problem, outcome.counts.problemMessage};
  status["conditions"] = conditionsAfter(function, outcome, desired, problem);
  recordProblem(function, problem);
  if (Status s = writeStatus(function, status); !s.isOk()) return reconcile::ReconcileResult::error(s);
  if (!outcome.failure.empty()) return reconcile::ReconcileResult::error(internalError(outcome.failure));
  if (outcome.settling) return reconcile::ReconcileResult::requeueAfter(kSettleRecheck);
  if (!secrets->reason.empty()) return reconcile::ReconcileResult::requeueAfter(kSecretRecheck);
  // Looked at again now and then (controller-runtime's sync period), so a status computed from a
  // moment when the caches disagreed is corrected even if no further event arrives. Every change
  // that matters comes as an event (the Function, its Triggers and pods, a rotated token: see
  // Controllers::addTokenController), so this is a safety net, not a poll: at 30 s, 1,000 idle
  // Functions cost a quarter of the operator's CPU in renders and pod templates (issue 14).
  return reconcile::ReconcileResult::requeueAfter(resyncAfter(key));
}

Clock::Duration FunctionController::triggerWait(const json& function, size_t triggers, int desired) const {
  if (triggerGrace_ <= Clock::Duration::zero() || triggers > 0 || desired == 0) return Clock::Duration::zero();
  const std::string created = function.value("/metadata/creationTimestamp"_json_pointer, std::string());
  if (created.empty()) return Clock::Duration::zero();
  // Wall clocks of operator and apiserver may disagree: never more than the grace, never negative.
  const auto left = parseRfc3339(created) + triggerGrace_ - clock_.wallNow();
  return std::clamp(std::chrono::duration_cast<Clock::Duration>(left), Clock::Duration::zero(), triggerGrace_);
}

Clock::Duration FunctionController::resyncAfter(const std::string& key) {
  return kResyncPeriod + std::chrono::seconds(std::hash<std::string>{}(key) % 60);
}

Status FunctionController::writeStatus(const json& function, const json& status) {
  json current = function.value("status", json::object());
  bool changed = false;
  for (const auto& [field, value] : status.items()) {
    // Conditions compare whole: api::condition() keeps lastTransitionTime when a condition is unchanged.
    if (!current.contains(field) || current[field] != value) {
      changed = true;
      break;
    }
  }
  if (!changed) return Status::ok();
  const json& meta = function["metadata"];
  kube::PatchOptions options;
  options.subresource = "status";
  auto patched = client_.patch(spec::kFunctions, meta.value("namespace", "default"), meta.value("name", ""),
                               kube::PatchType::kMerge, json{{"status", status}}, options);
  if (!patched.isOk() && patched.status().code() == StatusCode::kNotFound) return Status::ok();  // deleted meanwhile
  return patched.status();
}

void FunctionController::recordProblem(const json& function, const Problem& problem) {
  if (problem.reason.empty()) return;
  // Once per onset: the Degraded condition said something else before this pass.
  for (const json& c : function.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Degraded" && c.value("reason", "") == problem.reason) return;
  }
  events_.record(function, "Warning", problem.reason, problem.message);
}

void FunctionController::recordSteps(const json& function, const platform::ApplyOutcome& outcome, int desired) {
  const std::string target = " (desired " + std::to_string(desired) + ")";
  if (outcome.adopted > 0) {
    events_.record(function, "Normal", "AdoptedWarmPods",
                   "adopted " + std::to_string(outcome.adopted) + " warm pod(s)" + target);
  }
  if (outcome.created > 0 && outcome.replaced == 0) {
    events_.record(function, "Normal", "ScaledUp",
                   "created " + std::to_string(outcome.created) + " replica pod(s)" + target);
  }
  if (outcome.removed > 0) {
    events_.record(function, "Normal", "ScaledDown",
                   "deleted " + std::to_string(outcome.removed) + " replica pod(s)" + target);
  }
  if (outcome.replaced > 0) {
    events_.record(function, "Normal", "ReplacedPods",
                   "replaced " + std::to_string(outcome.replaced) + " failed or outdated replica pod(s)" + target);
  }
}

}  // namespace sluice::controllers
