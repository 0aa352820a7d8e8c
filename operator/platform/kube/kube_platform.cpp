#include "platform/kube/kube_platform.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "api/function.h"
#include "api/pods.h"
#include "common/logging.h"
#include "common/time.h"
#include "kube/resource.h"
#include "platform/kube/pod_template.h"

namespace sluice::platform {

using nlohmann::json;
namespace res = kube::resources;

namespace {

constexpr const char* kInFlightAnnotation = "sluice.io/in-flight";  // written by whoever scrapes the replicas

// Waiting reasons the kubelet keeps retrying but that need a person (an image,
// a Secret, the code): ContainerCreating and PodInitializing pass by themselves.
bool needsAPerson(const std::string& waiting) {
  static const char* kReasons[] = {"CrashLoopBackOff",  "ImagePullBackOff",     "ErrImagePull",
                                   "InvalidImageName",  "CreateContainerError", "CreateContainerConfigError",
                                   "RunContainerError", "ErrImageNeverPull"};
  for (const char* reason : kReasons) {
    if (waiting == reason) return true;
  }
  return false;
}

// What the last exit of a container says: its reason, exit code and
// termination message ("Error, exit code 1: SyntaxError: ... (index.py, line 3)").
std::string lastExit(const json& terminated) {
  std::string text = terminated.value("reason", std::string("exited"));
  if (terminated.contains("exitCode")) text += ", exit code " + std::to_string(terminated.value("exitCode", 0));
  std::string message = terminated.value("message", std::string());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (!message.empty()) text += ": " + message;
  return text;
}

// A container's problem, if it has one that needs a person; `prefix` starts the message.
bool readContainerProblem(const json& c, const std::string& prefix, ReplicaPod& r) {
  const std::string waiting = c.value("/state/waiting/reason"_json_pointer, std::string());
  if (!needsAPerson(waiting)) return false;
  const json terminated = c.value("/lastState/terminated"_json_pointer, json::object());
  const bool oomKilled = terminated.is_object() && terminated.value("reason", "") == "OOMKilled";
  r.problem = oomKilled ? "OOMKilled" : waiting;
  r.problemMessage = prefix + c.value("/state/waiting/message"_json_pointer, std::string());
  if (terminated.is_object() && !terminated.empty()) {
    r.problemMessage += (r.problemMessage == prefix ? "last exit: " : "; last exit: ") + lastExit(terminated);
  }
  return true;
}

// A pod's first container problem (ReplicaPod::problem), from its container
// statuses, init containers first (they run first): spec.protocol's
// install-runtime, and the http handler's sidecar, which a crash loop or a
// bad image leaves waiting (docs/handler-images.md), named as they are not
// the runtime.
void readProblem(const json& pod, ReplicaPod& r) {
  for (const json& c : pod.value("/status/initContainerStatuses"_json_pointer, json::array())) {
    if (readContainerProblem(c, "container " + c.value("name", std::string()) + ": ", r)) return;
  }
  for (const json& c : pod.value("/status/containerStatuses"_json_pointer, json::array())) {
    if (readContainerProblem(c, "", r)) return;
  }
}

// The kubelet's imageID of the container that holds the Function's code: fetch-code, which copies a
// code image's /code (spec.code.image), else the http handler's sidecar, else the runtime, which runs
// spec.image (or the operator's runtime image). "" until the kubelet reports it.
std::string codeImageId(const json& pod) {
  const json init = pod.value("/status/initContainerStatuses"_json_pointer, json::array());
  for (const char* name : {"fetch-code", "handler"}) {
    for (const json& c : init) {
      if (c.value("name", std::string()) == name) return c.value("imageID", std::string());
    }
  }
  for (const json& c : pod.value("/status/containerStatuses"_json_pointer, json::array())) {
    if (c.value("name", std::string()) == "runtime") return c.value("imageID", std::string());
  }
  return "";
}

ReplicaPod toReplicaPod(const json& pod) {
  ReplicaPod r;
  const json& meta = pod["metadata"];
  r.name = meta.value("name", "");
  r.templateHash = meta.value("/labels"_json_pointer / api::kTemplateHashLabel, std::string());
  r.scheduled = !pod.value("/spec/nodeName"_json_pointer, std::string()).empty();
  r.ready = api::podReady(pod);
  r.terminating = meta.contains("deletionTimestamp");
  const std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  r.failed = phase == "Failed" || phase == "Succeeded";  // restartPolicy Always: a finished pod is gone for good
  std::string inFlight = meta.value("/annotations"_json_pointer / kInFlightAnnotation, std::string());
  if (!inFlight.empty()) r.inFlight = std::atoi(inFlight.c_str());
  r.created = parseRfc3339(meta.value("creationTimestamp", ""));
  readProblem(pod, r);
  r.imageDigest = codeImageId(pod);
  return r;
}

// Logs a failed step; the first one becomes the outcome's failure (the Degraded message).
void fail(ApplyOutcome& outcome, const std::string& key, const std::string& what, const Status& s) {
  SLUICE_LOG_WARN("function {}: {}: {}", key, what, s.toString());
  if (outcome.failure.empty()) outcome.failure = what + ": " + s.message();
}

bool controlledBy(const json& object, const std::string& uid) {
  for (const json& ref : object.value("/metadata/ownerReferences"_json_pointer, json::array())) {
    if (ref.value("controller", false) && ref.value("uid", "") == uid) return true;
  }
  return false;
}

ReplicaCounts countPods(const std::vector<ReplicaPod>& pods) {
  ReplicaCounts counts;
  const ReplicaPod* troubled = nullptr;  // the first pod by name with a problem: the same one every pass
  const ReplicaPod* newest = nullptr;    // the newest ready pod that reports its image: what a rollout leads to
  for (const ReplicaPod& p : pods) {
    if (p.terminating) {
      ++counts.draining;
      continue;
    }
    if (p.ready && !p.imageDigest.empty() &&
        (newest == nullptr || std::tie(p.created, p.name) > std::tie(newest->created, newest->name))) {
      newest = &p;
    }
    ++(p.ready ? counts.ready : counts.starting);
    if (p.failed) ++counts.failed;
    if (!p.problem.empty() && (troubled == nullptr || p.name < troubled->name)) troubled = &p;
  }
  if (newest != nullptr) counts.imageDigest = newest->imageDigest;
  if (troubled != nullptr) {
    counts.problem = troubled->problem;
    counts.problemMessage = "pod " + troubled->name + ": " + troubled->problemMessage;
  }
  return counts;
}

}  // namespace

KubePlatform::KubePlatform(KubePlatformOptions options, kube::ResourceClient& client, KubePlatformCaches caches,
                           reconcile::Expectations& expectations, reconcile::EventRecorder& events,
                           ControlTokens& tokens, ReplicaControl* replicas)
    : options_(std::move(options)),
      client_(client),
      caches_(caches),
      expectations_(expectations),
      events_(events),
      tokens_(tokens),
      replicas_(replicas) {}

std::vector<json> KubePlatform::podsOf(const std::string& uid) const {
  std::vector<json> out;
  for (const kube::ObjectPtr& p : caches_.pods.byOwnerUid(uid)) {
    if (controlledBy(*p, uid)) out.push_back(*p);
  }
  return out;
}

ReplicaCounts KubePlatform::counts(const std::string& key) const {
  kube::ObjectPtr function = caches_.functions.get(key);
  if (!function) return {};
  std::vector<ReplicaPod> pods;
  for (const json& pod : podsOf(function->value("/metadata/uid"_json_pointer, std::string()))) {
    pods.push_back(toReplicaPod(pod));
  }
  return countPods(pods);
}

void KubePlatform::forget(const std::string& key) {
  expectations_.forget(key);
  std::lock_guard lock(mu_);
  appliedConfig_.erase(key);
  foreignNames_.erase(key);
}

Result<ApplyOutcome> KubePlatform::apply(const ReplicaSpec& spec) {
  const auto began = options_.clock->now();
  const json& function = spec.function;
  const std::string ns = function["metadata"].value("namespace", "default");
  const std::string name = function["metadata"].value("name", "");
  const std::string uid = function["metadata"].value("uid", "");

  ApplyOutcome outcome;
  const std::string configMapName = configMapNameOf(name);
  auto podTemplate =
      buildReplicaPod(function, spec.rendered,
                      {options_.runtimeImage, configMapName, options_.defaultMemory, tokens_.issuesCertificates()});
  if (!podTemplate.isOk()) return Status(StatusCode::kInvalidArgument, podTemplate.status().message());
  if (Status s = ensureConfigMap(function, configMapName, spec.rendered.config); !s.isOk()) {
    // The server refusing our own ConfigMap is not the spec's fault: retried.
    return Status(s.code() == StatusCode::kInvalidArgument ? StatusCode::kInternal : s.code(), s.message())
        .withContext("ConfigMap " + ns + "/" + configMapName);
  }
  // Replica pods read the control token from the namespace's Secret at start.
  auto tokens = tokens_.ensure(ns);
  if (!tokens.isOk()) return tokens.status();

  // The expectations first, then the cache (client-go's order). The informer lowers an expectation
  // only after the object is in its cache, so once they are met every pod this operator created (or
  // deleted) is already in (or out of) the snapshot read below. Read the other way round, the last
  // creations could be observed between the read and the check: the check passes and the plan acts
  // on a count that misses them, one surplus pod per missed creation.
  const bool mayAct = expectations_.satisfied(spec.key);
  std::vector<ReplicaPod> pods;
  std::map<std::string, json> podsByName;
  std::map<std::string, std::string> stale;  // pod name -> why its credentials no longer serve
  for (json& pod : podsOf(uid)) {
    pods.push_back(toReplicaPod(pod));
    if (std::string why = tokens_.staleCredentials(pod, *tokens); !why.empty()) {
      pods.back().stale = true;
      stale[pods.back().name] = std::move(why);
    }
    podsByName[pods.back().name] = std::move(pod);
  }
  outcome.counts = countPods(pods);
  outcome.counts.desired = spec.desired;
  WarmCandidates warm = warmCandidates(function, *podTemplate, configMapName, spec.rendered, *tokens);
  warm.applyBegan = began;
  if (api::warmPoolSize(function, options_.defaultWarmPoolSize) > 0) {
    outcome.counts.warm = static_cast<int>(warm.pods.size());
  }
  if (!mayAct) {
    outcome.settling = true;
    return outcome;
  }
  ReplicaPlanInput input;
  input.desired = spec.desired;
  input.currentTemplateHash = (*podTemplate)["metadata"]["labels"][api::kTemplateHashLabel].get<std::string>();
  input.pods = pods;
  input.warmAvailable = static_cast<int>(warm.pods.size());
  ReplicaPlan plan = planReplicas(input);
  if (plan.create + plan.adopt > 0 || !plan.remove.empty()) {
    // What the decision was made from, so a surplus or a shortfall can be traced to the picture it came from.
    SLUICE_LOG_INFO("function {}: {} pods read ({} live, {} terminating), desired {}: create {}, adopt {}, remove {}",
                    spec.key, pods.size(), outcome.counts.live(), outcome.counts.draining, spec.desired, plan.create,
                    plan.adopt, plan.remove.size());
  }
  for (const PodRemoval& removal : plan.remove) {
    if (auto why = stale.find(removal.name); why != stale.end() && removal.reason == RemovalReason::kReplaced) {
      SLUICE_LOG_INFO("function {}: replacing pod {}: {}", spec.key, removal.name, why->second);
    }
  }
  json newPod = *podTemplate;  // what it holds at start, on the pod (ControlTokens::staleCredentials)
  json& annotations = newPod["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = json::object();
  annotations.update(ControlTokens::podAnnotations(*tokens));
  carryOut(spec.key, function, {*podTemplate, newPod}, plan, podsByName, warm, outcome);
  outcome.settling = plan.rolloutWaiting;
  return outcome;
}

Result<std::string> KubePlatform::invoke(const std::string& key, const std::string& trigger,
                                         const std::string& eventType, const std::string& body) {
  const auto slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string function = key.substr(slash + 1);
  if (replicas_ == nullptr) return unavailable("no replica control");
  for (const kube::ObjectPtr& pod : caches_.pods.byNamespace(ns)) {
    const json& labels = pod->value("/metadata/labels"_json_pointer, json::object());
    if (labels.value(api::kFunctionLabel, std::string()) != function ||
        labels.value(api::kRoleLabel, std::string()) != "replica")
      continue;
    if (pod->contains("/metadata/deletionTimestamp"_json_pointer) || !api::podReady(*pod)) continue;
    if (pod->value("/status/podIP"_json_pointer, std::string()).empty()) continue;
    if (Status s = replicas_->invoke(*pod, trigger, eventType, body); !s.isOk()) return s;
    return "pod " + pod->value("/metadata/name"_json_pointer, std::string());
  }
  return unavailable("no Ready replica pod of Function " + key);
}

Status KubePlatform::ensureConfigMap(const json& function, const std::string& name, const json& config) {
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
        {"labels", {{api::kFunctionLabel, meta.value("name", "")}, {api::kManagedByLabel, "sluice"}}},
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

KubePlatform::WarmCandidates KubePlatform::warmCandidates(const json& function, const json& podTemplate,
                                                          const std::string& configMapName,
                                                          const spec::RenderedConfig& rendered,
                                                          const NamespaceTokens& tokens) const {
  WarmCandidates out;
  const std::string& pool = out.pool = warmPoolOf(warmPodOf(podTemplate, configMapName));
  if (replicas_ == nullptr) return out;
  const std::string ns = function["metadata"].value("namespace", "default");
  // By the role label, not the namespace: a namespace's warm pods are few, its replicas may be thousands.
  for (const kube::ObjectPtr& p : caches_.pods.byLabel(api::kRoleLabel, "warm")) {
    const json& pod = *p;
    if (pod.value("/metadata/namespace"_json_pointer, std::string()) != ns || warmPoolOf(pod) != pool) continue;
    if (pod.contains("/metadata/deletionTimestamp"_json_pointer) || !api::podReady(pod)) continue;
    if (pod.value("/status/podIP"_json_pointer, std::string()).empty()) continue;
    if (!tokens_.staleCredentials(pod, tokens).empty()) continue;  // the pool replaces it
    out.pods.push_back(pod);
  }
  if (out.pods.empty()) return out;  // nothing to adopt: no configuration to hand over
  std::sort(out.pods.begin(), out.pods.end(), [](const json& a, const json& b) {
    return a.value("/metadata/creationTimestamp"_json_pointer, std::string()) <
           b.value("/metadata/creationTimestamp"_json_pointer, std::string());
  });
  // What buildWarmPod left out arrives with /specialize: the configuration, and inline code in it.
  const json& spec = function.value("spec", json::object());
  json configuration = rendered.config;
  if (spec.contains("/code/inline"_json_pointer)) {
    const std::string handler = spec.value("handler", "index.main_handler");
    configuration.erase("codeDir");
    configuration["codeFiles"] = {{handler.substr(0, handler.rfind('.')) + ".py", spec["code"]["inline"]}};
  }
  out.configuration = configuration.dump();
  return out;
}

Status KubePlatform::adopt(const std::string& key, const json& podTemplate, const json& warmPod,
                           const WarmCandidates& warm) {
  using Ms = std::chrono::duration<double, std::milli>;
  const auto chosen = options_.clock->now();
  const json& meta = warmPod["metadata"];
  const std::string name = meta.value("name", "");
  json labels = podTemplate["metadata"]["labels"];
  labels[api::kPoolLabel] = nullptr;  // leaves the pool
  json patch = {{"metadata",
                 {{"resourceVersion", meta.value("resourceVersion", "")},  // fails if another owner got there first
                  {"labels", labels},
                  {"ownerReferences", podTemplate["metadata"]["ownerReferences"]}}}};
  if (podTemplate["metadata"].contains("annotations")) {
    patch["metadata"]["annotations"] = podTemplate["metadata"]["annotations"];
  }
  auto adopted = client_.patch(res::kPods, meta.value("namespace", "default"), name, kube::PatchType::kMerge, patch);
  if (!adopted.isOk()) return adopted.status().withContext("adopting warm pod " + name);
  const auto relabelled = options_.clock->now();
  if (Status s = replicas_->specialize(*adopted, warm.configuration); !s.isOk()) {
    return s.withContext("specializing adopted pod " + name);
  }
  const auto specialized = options_.clock->now();
  // The adoption trace (bench/cold_start joins it with the runtime's by pod name): milliseconds from
  // the start of the reconcile's apply to the pod chosen, the relabel PATCH answered, /specialize answered.
  const auto wall = options_.clock->wallNow() -
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(specialized - warm.applyBegan);
  SLUICE_LOG_INFO(
      "function {}: adopted warm pod {} (trace: apply began at {:.3f} ms epoch, pod chosen +{:.1f} ms, relabel PATCH "
      "+{:.1f} ms, /specialize answered +{:.1f} ms)",
      key, name, Ms(wall.time_since_epoch()).count(), Ms(chosen - warm.applyBegan).count(),
      Ms(relabelled - warm.applyBegan).count(), Ms(specialized - warm.applyBegan).count());
  return Status::ok();
}

void KubePlatform::carryOut(const std::string& key, const json& function, const PodTemplates& templates,
                            const ReplicaPlan& plan, const std::map<std::string, json>& podsByName,
                            const WarmCandidates& warm, ApplyOutcome& outcome) {
  const std::string ns = function["metadata"].value("namespace", "default");
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
      if (s.code() != StatusCode::kNotFound) fail(outcome, key, "delete pod " + removal.name, s);
    }
  }
  const int adoptedBefore = outcome.adopted;
  for (int i = 0; i < adoptions; ++i) {
    const json& pod = warm.pods[static_cast<size_t>(i)];
    Status s = adopt(key, templates.adopted, pod, warm);
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
      Status removed =
          client_.remove(res::kPods, pod["metadata"].value("namespace", "default"), pod["metadata"].value("name", ""));
      if (!removed.isOk()) expectations_.deletionObserved(key);
    }
    ++creations;
  }
  if (options_.onStarts && plan.create + plan.adopt > 0 && !warm.pool.empty()) {
    options_.onStarts(ns, warm.pool, plan.create + plan.adopt, outcome.adopted - adoptedBefore);
  }
  createReplicas(key, function, templates.created, creations, outcome);
}

void KubePlatform::createReplicas(const std::string& key, const json& function, const json& podTemplate, int count,
                                  ApplyOutcome& outcome) {
  if (count <= 0) return;
  const std::string ns = function["metadata"].value("namespace", "default");
  const std::string functionName = function["metadata"].value("name", "");
  const std::string uid = function["metadata"].value("uid", "");
  std::set<std::string> taken;
  for (const kube::ObjectPtr& pod : caches_.pods.byNamespace(ns)) {
    taken.insert(pod->value("/metadata/name"_json_pointer, std::string()));
  }
  {
    std::lock_guard lock(mu_);
    auto foreign = foreignNames_.find(key);
    if (foreign != foreignNames_.end()) taken.insert(foreign->second.begin(), foreign->second.end());
  }
  std::vector<std::string> names = freeReplicaPodNames(functionName, taken, count);
  taken.insert(names.begin(), names.end());
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name = names[i];  // a copy: names grows below
    json pod = podTemplate;
    pod["metadata"]["name"] = name;
    auto created = client_.create(res::kPods, ns, pod);
    if (created.isOk()) {
      SLUICE_LOG_INFO("function {}: created pod {}", key, name);
      ++outcome.created;
      continue;
    }
    if (created.status().code() == StatusCode::kAlreadyExists) {
      auto holder = client_.get(res::kPods, ns, name);
      if (holder.isOk() && controlledBy(*holder, uid)) {
        // The replica wanted exists: a create of it (a killed operator's, or a POST whose answer was
        // lost) landed after the cache was read. Its watch event may have come before this reconcile
        // set the expectations (and was lost to them), so this creation counts as observed now. If
        // the event comes later it is counted twice and the expectations are met early, which costs
        // at most a repeated create of a name that then fails the same way: never a surplus pod.
        expectations_.creationObserved(key);
        SLUICE_LOG_INFO("function {}: pod {} exists already (an earlier create of it landed after the pods were read)",
                        key, name);
        continue;
      }
      if (holder.isOk()) {
        // Another owner's pod (an older Function of this name, a StatefulSet's) holds the name and is not in
        // the cache: remember it, and the expected creation stands for the pod under the next free name.
        SLUICE_LOG_WARN("function {}: pod name {} is taken by a pod the Function does not control; skipping it", key,
                        name);
        {
          std::lock_guard lock(mu_);
          foreignNames_[key].insert(name);
        }
        std::string next = freeReplicaPodNames(functionName, taken, 1).front();
        taken.insert(next);
        names.push_back(std::move(next));
        continue;
      }
    }
    expectations_.creationObserved(key);  // no creation is coming
    fail(outcome, key, "create pod " + name, created.status());
  }
}

}  // namespace sluice::platform
