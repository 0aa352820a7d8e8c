#include "controllers/function/function_controller.h"

#include <algorithm>

#include "common/logging.h"
#include "controllers/conditions.h"
#include "controllers/function/pod_template.h"
#include "spec/resources.h"
#include "spec/runtime_config_render.h"

namespace sluice::controllers {

using nlohmann::json;
namespace res = kube::resources;

namespace {

constexpr const char* kInFlightAnnotation = "sluice.io/in-flight";  // written by whoever scrapes the replicas
// How long a reconcile waits for unmet expectations before looking again (they
// are normally met by the watch, which enqueues the Function itself).
constexpr auto kExpectationRecheck = std::chrono::seconds(5);
constexpr auto kResyncPeriod = std::chrono::seconds(30);

ReplicaPod toReplicaPod(const json& pod) {
  ReplicaPod r;
  const json& meta = pod["metadata"];
  r.name = meta.value("name", "");
  r.templateHash = meta.value("/labels"_json_pointer / kTemplateHashLabel, std::string());
  r.scheduled = !pod.value("/spec/nodeName"_json_pointer, std::string()).empty();
  r.ready = podReady(pod);
  r.terminating = meta.contains("deletionTimestamp");
  const std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  r.failed = phase == "Failed" || phase == "Succeeded";  // restartPolicy Always: a finished pod is gone for good
  std::string inFlight = meta.value("/annotations"_json_pointer / kInFlightAnnotation, std::string());
  if (!inFlight.empty()) r.inFlight = std::atoi(inFlight.c_str());
  r.created = parseRfc3339(meta.value("creationTimestamp", ""));
  return r;
}

bool controlledBy(const json& object, const std::string& uid) {
  for (const json& ref : object.value("/metadata/ownerReferences"_json_pointer, json::array())) {
    if (ref.value("controller", false) && ref.value("uid", "") == uid) return true;
  }
  return false;
}

}  // namespace

FunctionController::FunctionController(FunctionControllerOptions options, kube::ResourceClient& client,
                                       FunctionControllerCaches caches, controller::Expectations& expectations,
                                       controller::EventRecorder& events, ControlTokens& tokens,
                                       ReplicaControl* replicas, Clock& clock)
    : options_(std::move(options)),
      client_(client),
      caches_(caches),
      expectations_(expectations),
      events_(events),
      tokens_(tokens),
      replicas_(replicas),
      clock_(clock) {}

int FunctionController::desiredReplicas(const json& function) {
  const json& spec = function.value("spec", json::object());
  if (spec.contains("replicas") && spec["replicas"].is_number_integer())
    return std::max(0, spec["replicas"].get<int>());
  const json& scaling = spec.value("scaling", json::object());
  const int minReplicas = scaling.value("minReplicas", 0);
  const int maxReplicas = scaling.value("maxReplicas", 100);
  int desired = function.value("/status/desiredReplicas"_json_pointer, minReplicas);
  return std::clamp(desired, minReplicas, std::max(minReplicas, maxReplicas));
}

std::vector<std::string> FunctionController::functionsOfTrigger(const json& trigger) {
  std::string name = trigger.value("/spec/functionRef/name"_json_pointer, std::string());
  if (name.empty()) return {};
  return {kube::objectKey(trigger.value("/metadata/namespace"_json_pointer, std::string("default")), name)};
}

controller::ReconcileResult FunctionController::reconcile(const std::string& key) {
  kube::ObjectPtr cached = caches_.functions.get(key);
  if (!cached || cached->contains("/metadata/deletionTimestamp"_json_pointer)) {
    // Its pods and ConfigMap go with it (owner references, garbage collector).
    expectations_.forget(key);
    std::lock_guard lock(mu_);
    appliedConfig_.erase(key);
    return controller::ReconcileResult::done();
  }
  const json& function = *cached;
  const std::string ns = function["metadata"].value("namespace", "default");
  const std::string name = function["metadata"].value("name", "");
  const std::string uid = function["metadata"].value("uid", "");
  const long long generation = function["metadata"].value("generation", 0LL);
  const json previousConditions = function.value("/status/conditions"_json_pointer, json::array());
  const std::string now = rfc3339(clock_.wallNow());

  std::vector<json> triggers;
  for (const kube::ObjectPtr& t : caches_.triggers.byNamespace(ns)) {
    if (t->value("/spec/functionRef/name"_json_pointer, std::string()) == name) triggers.push_back(*t);
  }

  // Pods this Function controls, from the cache.
  std::vector<ReplicaPod> pods;
  std::map<std::string, json> podsByName;
  for (const kube::ObjectPtr& p : caches_.pods.byOwnerUid(uid)) {
    if (!controlledBy(*p, uid)) continue;
    pods.push_back(toReplicaPod(*p));
    podsByName[pods.back().name] = *p;
  }
  int live = 0;
  int ready = 0;
  for (const ReplicaPod& p : pods) {
    if (p.terminating) continue;
    ++live;
    if (p.ready) ++ready;
  }
  const int desired = desiredReplicas(function);
  json status = {{"observedGeneration", generation},
                 {"replicas", live},
                 {"readyReplicas", ready},
                 {"selector", std::string(kFunctionLabel) + "=" + name},
                 {"triggerCount", static_cast<int>(triggers.size())}};

  // A spec the renderer or pod builder refuses cannot be fixed by retrying: say so and wait for an edit.
  auto refuse = [&](const Status& why) {
    status["conditions"] = json::array({
        condition(previousConditions, "Ready", false, "InvalidSpec", why.message(), generation, now),
        condition(previousConditions, "Active", live > 0, live > 0 ? "Active" : "ScaledToZero", "", generation, now),
        condition(previousConditions, "Degraded", true, "InvalidSpec", why.message(), generation, now),
    });
    events_.record(function, "Warning", "InvalidSpec", why.message());
    if (Status written = writeStatus(function, status); !written.isOk()) {
      return controller::ReconcileResult::error(written);
    }
    return controller::ReconcileResult::terminalError(why);
  };
  auto rendered = spec::renderRuntimeConfig(function, triggers);
  if (!rendered.isOk()) return refuse(rendered.status());
  const std::string configMapName = name + "-sluice-config";
  auto podTemplate = buildReplicaPod(function, *rendered, {options_.runtimeImage, configMapName});
  if (!podTemplate.isOk()) return refuse(podTemplate.status());
  if (Status s = ensureConfigMap(function, configMapName, rendered->config); !s.isOk()) {
    return controller::ReconcileResult::error(s.withContext("ConfigMap " + ns + "/" + configMapName));
  }

  // Replica pods read the control token from the namespace's Secret at start.
  if (auto token = tokens_.ensure(ns); !token.isOk()) return controller::ReconcileResult::error(token.status());

  WarmCandidates warm = warmCandidates(function, *rendered);
  if (warmPoolSize(function, options_.defaultWarmPoolSize) > 0) {
    status["warmReplicas"] = static_cast<int>(warm.pods.size());
  }
  Outcome outcome;
  ReplicaPlan plan;
  const bool trusted = expectations_.satisfied(key);
  if (trusted) {
    ReplicaPlanInput input;
    input.desired = desired;
    input.currentTemplateHash = (*podTemplate)["metadata"]["labels"][kTemplateHashLabel].get<std::string>();
    input.pods = pods;
    input.warmAvailable = static_cast<int>(warm.pods.size());
    plan = planReplicas(input);
    outcome = carryOut(key, function, *podTemplate, plan, podsByName, warm);
    recordSteps(function, outcome, desired);
  }

  int failed = 0;
  for (const ReplicaPod& p : pods) failed += p.failed && !p.terminating ? 1 : 0;
  const bool allReady = ready >= desired && live == desired;
  std::string readyReason = desired == 0 ? "ScaledToZero" : (allReady ? "AllReplicasReady" : "ReplicasNotReady");
  std::string readyMessage = std::to_string(ready) + "/" + std::to_string(desired) + " replicas ready";
  std::string degradedReason = "AsExpected";
  std::string degradedMessage;
  if (!outcome.failure.empty()) {
    degradedReason = "PodChangeFailed";
    degradedMessage = outcome.failure;
  } else if (failed > 0) {
    degradedReason = "ReplicaFailed";
    degradedMessage = std::to_string(failed) + " replica pod(s) failed and are being replaced";
  }
  status["conditions"] = json::array({
      condition(previousConditions, "Ready", allReady, readyReason, readyMessage, generation, now),
      condition(previousConditions, "Active", desired > 0, desired > 0 ? "Active" : "ScaledToZero",
                std::to_string(desired) + " replicas desired", generation, now),
      condition(previousConditions, "Degraded", degradedReason != "AsExpected", degradedReason, degradedMessage,
                generation, now),
  });
  if (Status s = writeStatus(function, status); !s.isOk()) return controller::ReconcileResult::error(s);
  if (!outcome.failure.empty()) return controller::ReconcileResult::error(internalError(outcome.failure));
  if (!trusted || plan.rolloutWaiting) return controller::ReconcileResult::requeueAfter(kExpectationRecheck);
  // Looked at again periodically (controller-runtime's sync period), so a status computed from a
  // moment when the caches disagreed is corrected even if no further event arrives.
  return controller::ReconcileResult::requeueAfter(kResyncPeriod);
}

Status FunctionController::ensureConfigMap(const json& function, const std::string& name, const json& config) {
  const json& meta = function["metadata"];
  json data = {{"function.json", config.dump(2)}};
  const json& code = function.value("/spec/code"_json_pointer, json::object());
  if (code.contains("inline")) data["code.py"] = code["inline"];
  const std::string key = kube::objectKey(meta.value("namespace", "default"), meta.value("name", ""));
  const std::string content = data.dump();
  {
    std::lock_guard lock(mu_);
    auto it = appliedConfig_.find(key);
    if (it != appliedConfig_.end() && it->second == content) return Status::ok();
  }
  json configMap = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", name},
        {"namespace", meta.value("namespace", "default")},
        {"labels", {{kFunctionLabel, meta.value("name", "")}, {"app.kubernetes.io/managed-by", "sluice"}}},
        {"ownerReferences", json::array({{{"apiVersion", "sluice.io/v1alpha1"},
                                          {"kind", "Function"},
                                          {"name", meta.value("name", "")},
                                          {"uid", meta.value("uid", "")},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}})}}},
      {"data", data},
  };
  auto applied = client_.apply(res::kConfigMaps, configMap, options_.fieldManager, /*force=*/true);
  if (!applied.isOk()) return applied.status();
  std::lock_guard lock(mu_);
  appliedConfig_[key] = content;
  return Status::ok();
}

WarmCandidates FunctionController::warmCandidates(const json& function, const spec::RenderedConfig& rendered) const {
  WarmCandidates out;
  if (replicas_ == nullptr) return out;
  const json& spec = function.value("spec", json::object());
  // A warm pod has no Secrets, env, code volume or pod settings of the Function.
  if (!rendered.secretEnvs.empty() || !rendered.secretVolumes.empty()) return out;
  for (const char* field : {"env", "envFrom", "resources", "pod"}) {
    if (spec.contains(field)) return out;
  }
  json configuration = rendered.config;
  if (spec.value("runtime", "python3.11") != "builtin") {
    if (!spec.contains("/code/inline"_json_pointer)) return out;
    const std::string handler = spec.value("handler", "index.main_handler");
    configuration.erase("codeDir");
    configuration["codeFiles"] = {{handler.substr(0, handler.rfind('.')) + ".py", spec["code"]["inline"]}};
  }
  const std::string pool = warmPoolName(spec.value("image", options_.runtimeImage));
  const std::string ns = function["metadata"].value("namespace", "default");
  for (const kube::ObjectPtr& p : caches_.pods.byNamespace(ns)) {
    const json& pod = *p;
    if (pod.value("/metadata/labels"_json_pointer / kRoleLabel, std::string()) != "warm") continue;
    if (pod.value("/metadata/labels"_json_pointer / kPoolLabel, std::string()) != pool) continue;
    if (pod.contains("/metadata/deletionTimestamp"_json_pointer) || !podReady(pod)) continue;
    if (pod.value("/status/podIP"_json_pointer, std::string()).empty()) continue;
    out.pods.push_back(pod);
  }
  std::sort(out.pods.begin(), out.pods.end(), [](const json& a, const json& b) {
    return a.value("/metadata/creationTimestamp"_json_pointer, std::string()) <
           b.value("/metadata/creationTimestamp"_json_pointer, std::string());
  });
  out.configuration = configuration.dump();
  return out;
}

Status FunctionController::adopt(const std::string& key, const json& podTemplate, const json& warmPod,
                                 const std::string& configuration) {
  const json& meta = warmPod["metadata"];
  const std::string name = meta.value("name", "");
  json labels = podTemplate["metadata"]["labels"];
  labels[kPoolLabel] = nullptr;  // leaves the pool
  json patch = {{"metadata",
                 {{"resourceVersion", meta.value("resourceVersion", "")},  // fails if another owner got there first
                  {"labels", labels},
                  {"ownerReferences", podTemplate["metadata"]["ownerReferences"]}}}};
  auto adopted =
      client_.patch(kube::resources::kPods, meta.value("namespace", "default"), name, kube::PatchType::kMerge, patch);
  if (!adopted.isOk()) return adopted.status().withContext("adopting warm pod " + name);
  if (Status s = replicas_->specialize(*adopted, configuration); !s.isOk()) {
    return s.withContext("specializing adopted pod " + name);
  }
  SLUICE_LOG_INFO("function {}: adopted warm pod {}", key, name);
  return Status::ok();
}

FunctionController::Outcome FunctionController::carryOut(const std::string& key, const json& function,
                                                         const json& podTemplate, const ReplicaPlan& plan,
                                                         const std::map<std::string, json>& podsByName,
                                                         const WarmCandidates& warm) {
  Outcome outcome;
  const std::string ns = function["metadata"].value("namespace", "default");
  auto fail = [&](const std::string& what, const Status& s) {
    SLUICE_LOG_WARN("function {}: {}: {}", key, what, s.toString());
    if (outcome.failure.empty()) outcome.failure = what + ": " + s.message();
  };
  int creations = plan.create;
  const int adoptions = std::min(plan.adopt, static_cast<int>(warm.pods.size()));
  creations += plan.adopt - adoptions;
  // Replaces the (satisfied) record: only then does a reconcile act.
  if (creations + adoptions > 0 || !plan.remove.empty()) {
    expectations_.expect(key, creations + adoptions, static_cast<int>(plan.remove.size()));
  }
  for (const PodRemoval& removal : plan.remove) {
    auto pod = podsByName.find(removal.name);
    if (replicas_ != nullptr && removal.reason != RemovalReason::kFailed && pod != podsByName.end()) {
      // Best effort: the deletion's grace period drains the replica (SIGTERM) even if this fails.
      if (Status s = replicas_->drain(pod->second); !s.isOk()) {
        SLUICE_LOG_DEBUG("function {}: drain of pod {}: {}", key, removal.name, s.toString());
      }
    }
    kube::DeleteOptions options;
    if (pod != podsByName.end()) options.preconditionUid = pod->second["metadata"].value("uid", "");
    Status s = client_.remove(res::kPods, ns, removal.name, options);
    if (s.isOk()) {
      SLUICE_LOG_INFO("function {}: deleted pod {} ({})", key, removal.name, removalReasonName(removal.reason));
      (removal.reason == RemovalReason::kScaleDown ? outcome.removed : outcome.replaced) += 1;
    } else {
      expectations_.deletionObserved(key);  // no deletion is coming
      if (s.code() != StatusCode::kNotFound) fail("delete pod " + removal.name, s);
    }
  }
  for (int i = 0; i < adoptions; ++i) {
    const json& pod = warm.pods[static_cast<size_t>(i)];
    Status s = adopt(key, podTemplate, pod, warm.configuration);
    if (s.isOk()) {
      ++outcome.adopted;
      continue;
    }
    SLUICE_LOG_WARN("function {}: {}; creating a fresh pod instead", key, s.toString());
    events_.record(function, "Warning", "AdoptionFailed", s.message() + "; creating a fresh pod instead");
    // Not adopted (conflict, gone): the adoption's expected creation now stands for the fresh pod.
    // Adopted but not specialized: the adoption will be observed, so expect one more creation, and
    // the useless pod's deletion.
    if (s.code() != StatusCode::kConflict && s.code() != StatusCode::kNotFound) {
      expectations_.raise(key, 1, 1);
      Status removed = client_.remove(kube::resources::kPods, pod["metadata"].value("namespace", "default"),
                                      pod["metadata"].value("name", ""));
      if (!removed.isOk()) expectations_.deletionObserved(key);
    }
    ++creations;
  }
  for (int i = 0; i < creations; ++i) {
    auto created = client_.create(res::kPods, ns, podTemplate);
    if (created.isOk()) {
      SLUICE_LOG_INFO("function {}: created pod {}", key, created->value("/metadata/name"_json_pointer, std::string()));
      ++outcome.created;
    } else {
      expectations_.creationObserved(key);
      fail("create pod", created.status());
    }
  }
  return outcome;
}

Status FunctionController::writeStatus(const json& function, const json& status) {
  json current = function.value("status", json::object());
  bool changed = false;
  for (const auto& [field, value] : status.items()) {
    if (!current.contains(field)) {
      changed = true;
      break;
    }
    if (field == "conditions") {
      // Compare without lastTransitionTime: that is kept from the current status when unchanged.
      if (current[field] != value) changed = true;
    } else if (current[field] != value) {
      changed = true;
    }
    if (changed) break;
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

void FunctionController::recordSteps(const json& function, const Outcome& outcome, int desired) {
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
