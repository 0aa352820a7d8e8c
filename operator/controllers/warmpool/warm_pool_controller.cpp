#include "controllers/warmpool/warm_pool_controller.h"

#include <algorithm>
#include <map>

#include "api/function.h"
#include "api/pods.h"
#include "common/logging.h"
#include "platform/kube/pod_template.h"
#include "spec/function_triggers.h"

namespace sluice::controllers {

using nlohmann::json;

namespace {

constexpr auto kExpectationRecheck = std::chrono::seconds(5);
// How often a namespace with pools is looked at again although nothing changed: pods whose
// credentials went stale (a rotation, a certificate nearing its end) are swapped within this.
constexpr auto kCredentialsRecheck = std::chrono::seconds(30);
// How often a namespace whose pools have starts in their sizing window is looked at again.
constexpr auto kDemandRecheck = std::chrono::seconds(5);

}  // namespace

WarmPoolController::WarmPoolController(WarmPoolControllerOptions options, kube::ResourceClient& client,
                                       const kube::ObjectCache& functions, const kube::ObjectCache& triggers,
                                       const kube::ObjectCache& pods, reconcile::Expectations& expectations,
                                       platform::ControlTokens& tokens, Clock& clock)
    : options_(std::move(options)),
      client_(client),
      functions_(functions),
      triggers_(triggers),
      pods_(pods),
      expectations_(expectations),
      tokens_(tokens),
      clock_(clock) {}

std::vector<std::string> WarmPoolController::namespaceOf(const json& object) {
  if (object.value("kind", "") == "Pod" &&
      object.value("/metadata/labels"_json_pointer / api::kRoleLabel, std::string()) != "warm") {
    return {};
  }
  return {object.value("/metadata/namespace"_json_pointer, std::string("default"))};
}

Result<json> WarmPoolController::warmPodOf(const json& function) const {
  const std::string ns = function.value("/metadata/namespace"_json_pointer, std::string("default"));
  const std::string name = function.value("/metadata/name"_json_pointer, std::string());
  std::vector<json> triggers;
  for (const kube::ObjectPtr& t : spec::triggersOf(triggers_, ns, name)) triggers.push_back(*t);
  auto rendered = spec::renderRuntimeConfig(function, triggers);
  if (!rendered.isOk()) return rendered.status();
  return platform::buildWarmPod(
      function, *rendered,
      {options_.runtimeImage, platform::configMapNameOf(name), options_.defaultMemory, tokens_.issuesCertificates()});
}

std::map<std::string, WarmPoolController::Pool> WarmPoolController::poolsOf(const std::string& ns) const {
  std::map<std::string, Pool> pools;
  for (const kube::ObjectPtr& f : functions_.byNamespace(ns)) {
    if (f->contains("/metadata/deletionTimestamp"_json_pointer)) continue;
    int size = api::warmPoolSize(*f, options_.defaultWarmPoolSize);
    if (size <= 0 && (options_.demand == nullptr || !options_.demand->sized())) continue;
    auto pod = warmPodOf(*f);
    if (!pod.isOk()) continue;
    Pool& pool = pools[platform::warmPoolOf(*pod)];
    pool.pod = std::move(*pod);
    pool.size = std::max(pool.size, size);
  }
  for (const kube::ObjectPtr& p : pods_.byNamespace(ns)) {
    if (!api::isWarmPod(*p)) continue;
    pools[p->value("/metadata/labels"_json_pointer / api::kPoolLabel, std::string())].pods.push_back(*p);
  }
  return pools;
}

WarmPoolController::Plan WarmPoolController::plan(const std::string& ns, std::map<std::string, Pool>& pools,
                                                  const platform::NamespaceTokens& tokens) {
  Plan out;
  const Clock::TimePoint now = clock_.now();
  std::lock_guard lock(mu_);
  for (auto& [name, pool] : pools) {
    // A pod the operator can no longer (or soon cannot) specialize goes, and counts as missing.
    // (Judged once per pod: the check verifies a certificate.)
    std::vector<json> fresh;
    for (json& pod : pool.pods) {
      if (std::string why = tokens_.staleCredentials(pod, tokens); !why.empty()) {
        SLUICE_LOG_INFO("warm pool {}: replacing pod {}: {}", ns,
                        pod.value("/metadata/name"_json_pointer, std::string()), why);
        out.deletes.push_back(std::move(pod));
      } else {
        fresh.push_back(std::move(pod));
      }
    }
    pool.pods = std::move(fresh);
    const int have = static_cast<int>(pool.pods.size());
    const std::string poolKey = ns + "/" + name;
    int& last = lastCount_[poolKey];
    if (have < last) refillAt_[poolKey] = now + options_.refillDelay;  // adopted (or gone) since the last look
    last = have;
    if (have < pool.size) {
      auto at = refillAt_.find(poolKey);
      if (at != refillAt_.end() && now < at->second) {
        out.refillWait = std::min(out.refillWait, at->second - now);
      } else {
        if (at != refillAt_.end()) refillAt_.erase(at);
        for (int i = have; i < pool.size; ++i) out.creates.push_back(pool.pod);
      }
    }
    if (have > pool.size) {
      // Not ready first, then newest: keep the pods most likely to be adopted soon.
      std::sort(pool.pods.begin(), pool.pods.end(), [](const json& a, const json& b) {
        if (api::podReady(a) != api::podReady(b)) return !api::podReady(a);
        return a.value("/metadata/creationTimestamp"_json_pointer, std::string()) >
               b.value("/metadata/creationTimestamp"_json_pointer, std::string());
      });
      out.deletes.insert(out.deletes.end(), pool.pods.begin(), pool.pods.begin() + (have - pool.size));
    }
  }
  // Pools gone from the namespace are forgotten.
  for (auto it = lastCount_.lower_bound(ns + "/"); it != lastCount_.end() && it->first.starts_with(ns + "/");) {
    if (pools.count(it->first.substr(ns.size() + 1)) == 0) {
      refillAt_.erase(it->first);
      it = lastCount_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

Status WarmPoolController::carryOut(const std::string& ns, const Plan& plan, const platform::NamespaceTokens& tokens) {
  const std::string key = expectationsKey(ns);
  expectations_.expect(key, static_cast<int>(plan.creates.size()), static_cast<int>(plan.deletes.size()));
  Status first = Status::ok();
  for (const json& pod : plan.deletes) {
    const std::string name = pod["metadata"].value("name", "");
    kube::DeleteOptions options;
    options.preconditionUid = pod["metadata"].value("uid", "");
    Status s = client_.remove(kube::resources::kPods, ns, name, options);
    if (s.isOk()) {
      SLUICE_LOG_INFO("warm pool {}: deleted surplus pod {}", ns, name);
    } else {
      expectations_.deletionObserved(key);
      if (s.code() != StatusCode::kNotFound && first.isOk()) first = s.withContext("delete warm pod " + name);
    }
  }
  for (json pod : plan.creates) {
    json& annotations = pod["metadata"]["annotations"];
    if (!annotations.is_object()) annotations = json::object();
    annotations.update(platform::ControlTokens::podAnnotations(tokens));
    auto created = client_.create(kube::resources::kPods, ns, pod);
    if (created.isOk()) {
      SLUICE_LOG_INFO("warm pool {}: created pod {}", ns, created->value("/metadata/name"_json_pointer, std::string()));
      // Counted now: the next reconcile (once the cache has it) must not take it for a shrink.
      std::lock_guard counted(mu_);
      ++lastCount_[ns + "/" + platform::warmPoolOf(pod)];
    } else {
      expectations_.creationObserved(key);
      if (first.isOk()) first = created.status().withContext("create warm pod");
    }
  }
  return first;
}

reconcile::ReconcileResult WarmPoolController::reconcile(const std::string& ns) {
  if (!expectations_.satisfied(expectationsKey(ns)))
    return reconcile::ReconcileResult::requeueAfter(kExpectationRecheck);
  std::map<std::string, Pool> pools = poolsOf(ns);
  if (options_.demand != nullptr) {
    for (auto& [name, pool] : pools) {
      // A pool no Function asks for (only pods) is emptied: its demand is forgotten.
      if (pool.pod.is_null()) {
        options_.demand->forget(ns, name);
      } else {
        pool.size = options_.demand->size(ns, name, pool.size);
      }
    }
  }
  if (pools.empty()) return reconcile::ReconcileResult::done();
  // The pods read the token from this Secret at start, and are judged by it.
  auto tokens = tokens_.ensure(ns);
  if (!tokens.isOk()) return reconcile::ReconcileResult::error(tokens.status());
  const Plan planned = plan(ns, pools, *tokens);
  Status status = planned.creates.empty() && planned.deletes.empty() ? Status::ok() : carryOut(ns, planned, *tokens);
  if (!status.isOk()) return reconcile::ReconcileResult::error(status);
  // A deferred refill comes back when it is due.
  Clock::Duration again = std::min<Clock::Duration>(planned.refillWait, kCredentialsRecheck);
  // While starts are in a pool's window its size may fall: looked at again to shrink it in time.
  if (options_.demand != nullptr && options_.demand->decaying(ns))
    again = std::min<Clock::Duration>(again, kDemandRecheck);
  return reconcile::ReconcileResult::requeueAfter(again);
}

}  // namespace sluice::controllers
