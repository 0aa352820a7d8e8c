#include "local/local_store.h"

#include "common/time.h"
#include "spec/resources.h"

namespace sluice::local {

using kube::Json;

LocalStore::LocalStore(EventObserver onEvent, const Clock& clock) : onEvent_(std::move(onEvent)), clock_(clock) {}

kube::ObjectCache* LocalStore::cacheFor(const std::string& kind) {
  if (kind == "Function") return &functions_;
  if (kind == "Trigger") return &triggers_;
  if (kind == "Secret") return &secrets_;
  return nullptr;
}

kube::ObjectCache* LocalStore::cacheFor(const kube::ResourceType& type) { return cacheFor(type.kind); }

void LocalStore::put(const Json& object) {
  std::lock_guard lock(mu_);
  kube::ObjectCache* cache = cacheFor(object.value("kind", ""));
  if (!cache) return;
  Json next = object;
  Json& meta = next["metadata"];
  if (!meta.contains("namespace")) meta["namespace"] = "default";
  const std::string key = kube::objectKey(next);
  kube::ObjectPtr previous = cache->get(key);
  if (previous) {
    meta["uid"] = (*previous)["metadata"]["uid"];
    meta["creationTimestamp"] = (*previous)["metadata"]["creationTimestamp"];
    long long generation = (*previous)["metadata"].value("generation", 1LL);
    meta["generation"] = previous->value("spec", Json()) == next.value("spec", Json()) ? generation : generation + 1;
    if (previous->contains("status")) next["status"] = (*previous)["status"];
    if (*previous == next) return;
  } else {
    meta["uid"] = "local-" + std::to_string(++uidSequence_);
    meta["creationTimestamp"] = rfc3339(clock_.wallNow());
    meta["generation"] = 1;
  }
  meta["resourceVersion"] = std::to_string(++resourceVersion_);
  cache->upsert(std::make_shared<const Json>(std::move(next)));
}

void LocalStore::erase(const std::string& kind, const std::string& key) {
  std::lock_guard lock(mu_);
  if (kube::ObjectCache* cache = cacheFor(kind)) cache->erase(key);
}

Result<Json> LocalStore::get(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
  kube::ObjectCache* cache = cacheFor(type);
  kube::ObjectPtr object = cache ? cache->get(kube::objectKey(ns, name)) : nullptr;
  if (!object) return notFound(type.resource + " \"" + name + "\" not found");
  return *object;
}

Result<Json> LocalStore::list(const kube::ResourceType& type, const std::string& ns, const kube::ListOptions&) {
  Json items = Json::array();
  if (kube::ObjectCache* cache = cacheFor(type)) {
    for (const kube::ObjectPtr& object : ns.empty() ? cache->list() : cache->byNamespace(ns)) items.push_back(*object);
  }
  return Json{{"kind", type.kind + "List"}, {"metadata", Json::object()}, {"items", std::move(items)}};
}

Result<Json> LocalStore::create(const kube::ResourceType& type, const std::string&, const Json& object) {
  if (type.kind == "Event") {
    if (onEvent_) onEvent_(object);
    return object;
  }
  put(object);
  return object;
}

Result<Json> LocalStore::update(const kube::ResourceType& type, const Json& object) {
  if (!cacheFor(type)) return Status(StatusCode::kFailedPrecondition, "--local stores no " + type.resource);
  put(object);
  return object;
}

Result<Json> LocalStore::updateStatus(const kube::ResourceType& type, const Json& object) {
  const Json& meta = object.value("metadata", Json::object());
  return patch(type, meta.value("namespace", "default"), meta.value("name", ""), kube::PatchType::kMerge,
               Json{{"status", object.value("status", Json::object())}}, {"", false, "status"});
}

Status LocalStore::remove(const kube::ResourceType& type, const std::string& ns, const std::string& name,
                          const kube::DeleteOptions&) {
  erase(type.kind, kube::objectKey(ns, name));
  return Status::ok();
}

Result<Json> LocalStore::patch(const kube::ResourceType& type, const std::string& ns, const std::string& name,
                               kube::PatchType patchType, const Json& patch, const kube::PatchOptions& options) {
  if (type.kind == "Event") return patch;  // an aggregated Event's count: nothing to keep
  kube::ObjectCache* cache = cacheFor(type);
  if (!cache) return Status(StatusCode::kFailedPrecondition, "--local stores no " + type.resource);
  if (patchType != kube::PatchType::kMerge) {
    return Status(StatusCode::kFailedPrecondition, "--local supports merge patches only");
  }
  std::lock_guard lock(mu_);
  kube::ObjectPtr current = cache->get(kube::objectKey(ns, name));
  if (!current) return notFound(type.resource + " \"" + name + "\" not found");
  Json next = *current;
  // Like the apiserver: a status patch touches status only, a main patch everything but status.
  Json effective = patch;
  if (options.subresource == "status") {
    effective = Json{{"status", patch.value("status", Json::object())}};
  } else {
    effective.erase("status");
  }
  next.merge_patch(effective);
  if (next == *current) return next;
  if (next.value("spec", Json()) != current->value("spec", Json())) {
    next["metadata"]["generation"] = (*current)["metadata"].value("generation", 1LL) + 1;
  }
  next["metadata"]["resourceVersion"] = std::to_string(++resourceVersion_);
  cache->upsert(std::make_shared<const Json>(next));
  return next;
}

Status LocalStore::watch(const kube::ResourceType& type, const std::string&, const kube::WatchOptions&,
                         const std::function<void(kube::WatchEvent&&)>&, std::stop_token) {
  return Status(StatusCode::kFailedPrecondition, "--local offers no watch on " + type.resource);
}

}  // namespace sluice::local
