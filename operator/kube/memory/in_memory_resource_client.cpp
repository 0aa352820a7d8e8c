#include "kube/memory/in_memory_resource_client.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/time.h"
#include "kube/api_error.h"
#include "kube/memory/selector.h"

namespace sluice::kube {

namespace {

const std::string kContinuePrefix = "memory-continue:";

std::string typeKey(const ResourceType& type) { return type.resource + "." + type.group; }

std::string qualified(const ResourceType& type) {
  return type.group.empty() ? type.resource : type.resource + "." + type.group;
}

std::string storeKey(const ResourceType& type, const std::string& ns, const std::string& name) {
  return objectKey(type.namespaced ? ns : "", name);
}

std::string metaString(const Json& object, const char* field) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return "";
  const Json& value = object["metadata"].contains(field) ? object["metadata"][field] : Json();
  return value.is_string() ? value.get<std::string>() : "";
}

// What generation follows: everything but metadata, status, kind and apiVersion.
Json specOf(const Json& object) {
  Json spec = object;
  spec.erase("metadata");
  spec.erase("status");
  spec.erase("kind");
  spec.erase("apiVersion");
  return spec;
}

bool inNamespace(const ResourceType& type, const std::string& ns, const Json& object) {
  return !type.namespaced || ns.empty() || metaString(object, "namespace") == ns;
}

std::string generatedSuffix(long n) {
  static const std::string alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 5; ++i, n /= static_cast<long>(alphabet.size())) suffix += alphabet[n % alphabet.size()];
  return suffix;
}

Status notFoundError(const std::string& method, const ResourceType& type, const std::string& ns,
                     const std::string& name) {
  return InMemoryResourceClient::apiStatus(404, "NotFound", qualified(type) + " \"" + name + "\" not found")
      .withContext(method + " " + type.path(ns, name));
}

Status conflictError(const std::string& where, const ResourceType& type, const std::string& name) {
  return InMemoryResourceClient::apiStatus(
             409, "Conflict",
             "Operation cannot be fulfilled on " + qualified(type) + " \"" + name +
                 "\": the object has been modified; please apply your changes to the latest version and try again")
      .withContext(where);
}

Status preconditionError(const std::string& where, const std::string& field, const std::string& wanted,
                         const std::string& actual) {
  return InMemoryResourceClient::apiStatus(409, "Conflict",
                                           "Precondition failed: " + field + " in precondition: " + wanted + ", " +
                                               field + " in object meta: " + actual)
      .withContext(where);
}

// A patched object's status: a status patch changes status only, any other patch everything but status.
Json withStatusRule(const Json& previous, Json next, bool statusOnly) {
  if (statusOnly) {
    Json status = next.contains("status") ? next["status"] : Json();
    next = previous;
    if (status.is_null()) {
      next.erase("status");
    } else {
      next["status"] = std::move(status);
    }
  } else if (previous.contains("status")) {
    next["status"] = previous["status"];
  } else {
    next.erase("status");
  }
  return next;
}

}  // namespace

InMemoryResourceClient::InMemoryResourceClient(const Clock& clock, InMemoryResourceClientOptions options)
    : clock_(clock), options_(std::move(options)) {}

Status InMemoryResourceClient::apiStatus(int code, const std::string& reason, const std::string& message) {
  Json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                 {"reason", reason}, {"message", message}, {"code", code}};
  return apiError(code, status.dump());
}

bool InMemoryResourceClient::observesEvents(const ResourceType& type) const {
  return options_.eventObserver && type.kind == "Event" && type.group.empty();
}

Result<Json> InMemoryResourceClient::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  const Json* stored = findLocked(type, ns, name);
  if (!stored) return notFoundError("GET", type, ns, name);
  return *stored;
}

Result<Json> InMemoryResourceClient::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  std::string where = "GET " + type.path(ns);
  auto labels = parseLabelSelector(options.labelSelector);
  if (!labels) return labels.status().withContext(where);
  auto fields = parseFieldSelector(options.fieldSelector);
  if (!fields) return fields.status().withContext(where);
  std::lock_guard lock(mu_);
  Json items = Json::array();
  std::string next;
  const auto& objects = store_[typeKey(type)];
  auto it = objects.begin();
  if (!options.continueToken.empty()) {
    if (options.continueToken.rfind(kContinuePrefix, 0) != 0) {
      return apiStatus(400, "BadRequest", "invalid continue token").withContext(where);
    }
    it = objects.upper_bound(options.continueToken.substr(kContinuePrefix.size()));
  }
  std::string lastKey;
  for (; it != objects.end(); ++it) {
    if (!inNamespace(type, ns, it->second) || !matches(*labels, *fields, it->second)) continue;
    if (options.limit > 0 && static_cast<int>(items.size()) == options.limit) {
      next = kContinuePrefix + lastKey;
      break;
    }
    items.push_back(it->second);
    lastKey = it->first;
  }
  Json result = {{"apiVersion", type.apiVersion()},
                 {"kind", type.kind + "List"},
                 {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                 {"items", std::move(items)}};
  if (!next.empty()) result["metadata"]["continue"] = next;
  return result;
}

Result<Json> InMemoryResourceClient::create(const ResourceType& type, const std::string& ns, const Json& object) {
  if (observesEvents(type)) {
    options_.eventObserver(object);
    return object;
  }
  std::string name = metaString(object, "name");
  std::string where = "POST " + type.path(ns);
  std::string objectNs = metaString(object, "namespace");
  if (type.namespaced && ns.empty()) {
    return apiStatus(400, "BadRequest", "a namespace is required to create " + qualified(type)).withContext(where);
  }
  if (type.namespaced && !objectNs.empty() && objectNs != ns) {
    return apiStatus(400, "BadRequest",
                     "the namespace of the provided object does not match the namespace sent on the request")
        .withContext(where);
  }
  std::lock_guard lock(mu_);
  Json next = object;
  next["metadata"] = object.contains("metadata") ? object["metadata"] : Json::object();
  if (name.empty()) {
    std::string prefix = metaString(object, "generateName");
    if (prefix.empty()) {
      return apiStatus(422, "Invalid", qualified(type) + ": metadata.name or generateName is required")
          .withContext(where);
    }
    name = prefix + generatedSuffix(++generated_);
    next["metadata"]["name"] = name;
  }
  std::string key = storeKey(type, ns, name);
  if (store_[typeKey(type)].count(key)) {
    return apiStatus(409, "AlreadyExists", qualified(type) + " \"" + name + "\" already exists").withContext(where);
  }
  if (type.namespaced) next["metadata"]["namespace"] = ns;
  next.erase("status");
  next["metadata"].erase("resourceVersion");
  return commitLocked(type, key, nullptr, std::move(next));
}

Result<Json> InMemoryResourceClient::update(const ResourceType& type, const Json& object) {
  return replace(type, object, /*statusOnly=*/false);
}

Result<Json> InMemoryResourceClient::updateStatus(const ResourceType& type, const Json& object) {
  return replace(type, object, /*statusOnly=*/true);
}

Result<Json> InMemoryResourceClient::replace(const ResourceType& type, const Json& object, bool statusOnly) {
  std::string ns = type.namespaced ? metaString(object, "namespace") : "";
  std::string name = metaString(object, "name");
  if (name.empty()) return invalidArgument("update of " + type.resource + ": metadata.name is empty");
  std::string where = "PUT " + type.path(ns, name, statusOnly ? "status" : "");
  std::lock_guard lock(mu_);
  const Json* stored = findLocked(type, ns, name);
  if (!stored) return notFoundError("PUT", type, ns, name);
  std::string wantVersion = metaString(object, "resourceVersion");
  if (!wantVersion.empty() && wantVersion != (*stored)["metadata"].value("resourceVersion", "")) {
    return conflictError(where, type, name);
  }
  Json previous = *stored;
  // A status write keeps everything but status; any other keeps the stored status.
  Json next = statusOnly ? withStatusRule(previous, object, true) : withStatusRule(previous, object, false);
  return commitLocked(type, storeKey(type, ns, name), &previous, std::move(next));
}

Status InMemoryResourceClient::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                                      const DeleteOptions& options) {
  std::string where = "DELETE " + type.path(ns, name);
  std::lock_guard lock(mu_);
  const Json* stored = findLocked(type, ns, name);
  if (!stored) return notFoundError("DELETE", type, ns, name);
  const Json& meta = (*stored)["metadata"];
  if (!options.preconditionUid.empty() && options.preconditionUid != meta.value("uid", "")) {
    return preconditionError(where, "UID", options.preconditionUid, meta.value("uid", ""));
  }
  if (!options.preconditionResourceVersion.empty() &&
      options.preconditionResourceVersion != meta.value("resourceVersion", "")) {
    return preconditionError(where, "ResourceVersion", options.preconditionResourceVersion,
                             meta.value("resourceVersion", ""));
  }
  std::string key = storeKey(type, ns, name);
  if (meta.contains("finalizers") && !meta["finalizers"].empty()) {
    // The apiserver only marks it; whoever owns a finalizer finishes the delete.
    if (meta.contains("deletionTimestamp")) return Status::ok();
    Json next = *stored;
    next["metadata"]["deletionTimestamp"] = rfc3339(clock_.wallNow());
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    Json previous = *stored;
    (void)commitLocked(type, key, &previous, std::move(next));
    return Status::ok();
  }
  eraseLocked(type, key);
  return Status::ok();
}

Result<Json> InMemoryResourceClient::patch(const ResourceType& type, const std::string& ns, const std::string& name,
                                           PatchType patchType, const Json& patchBody, const PatchOptions& options) {
  if (observesEvents(type)) return patchBody;  // an aggregated Event's count: nothing kept
  std::string where = "PATCH " + type.path(ns, name, options.subresource);
  if (patchType == PatchType::kApply && options.fieldManager.empty()) {
    return invalidArgument("server-side apply of " + type.resource + "/" + name + ": fieldManager is required");
  }
  bool statusOnly = options.subresource == "status";
  if (!options.subresource.empty() && !statusOnly) {
    return apiStatus(404, "NotFound", "no subresource " + options.subresource).withContext(where);
  }
  std::lock_guard lock(mu_);
  std::string key = storeKey(type, ns, name);
  const Json* stored = findLocked(type, ns, name);
  if (!stored && !(patchType == PatchType::kApply && !statusOnly)) return notFoundError("PATCH", type, ns, name);
  if (patchType != PatchType::kJson && patchBody.is_object() && patchBody.contains("metadata") &&
      patchBody["metadata"].is_object() && patchBody["metadata"].contains("resourceVersion") && stored &&
      patchBody["metadata"]["resourceVersion"] != (*stored)["metadata"]["resourceVersion"]) {
    return conflictError(where, type, name);
  }
  Json previous = stored ? *stored : Json();
  Json next = stored ? *stored : Json{{"metadata", {{"name", name}}}};
  try {
    if (patchType == PatchType::kJson) {
      next = next.patch(patchBody);
    } else {
      next.merge_patch(patchBody);
    }
  } catch (const nlohmann::json::exception& e) {
    return apiStatus(422, "Invalid", std::string("the patch could not be applied: ") + e.what()).withContext(where);
  }
  if (!next.is_object() || !next.contains("metadata") || !next["metadata"].is_object()) {
    return apiStatus(422, "Invalid", "the patch removed metadata").withContext(where);
  }
  if (!stored) {  // apply creates
    if (type.namespaced) next["metadata"]["namespace"] = ns;
    next["metadata"].erase("resourceVersion");
    return commitLocked(type, key, nullptr, std::move(next));
  }
  return commitLocked(type, key, &previous, withStatusRule(previous, std::move(next), statusOnly));
}

Status InMemoryResourceClient::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                                     const std::function<void(WatchEvent&&)>& onEvent, std::stop_token stop) {
  std::string where = "GET " + type.path(ns) + "?watch=true";
  auto labels = parseLabelSelector(options.labelSelector);
  if (!labels) return labels.status().withContext(where);
  auto fields = parseFieldSelector(options.fieldSelector);
  if (!fields) return fields.status().withContext(where);
  const std::string tkey = typeKey(type);
  auto wanted = [&](const HistoryEntry& entry) {
    if (entry.typeKey != tkey) return false;
    if (entry.type == WatchEventType::kBookmark) return options.allowBookmarks;
    return inNamespace(type, ns, entry.object) && matches(*labels, *fields, entry.object);
  };
  auto gone = [&](const std::string& why) { return apiStatus(410, "Expired", why).withContext(where); };

  std::unique_lock lock(mu_);
  std::vector<WatchEvent> pending;
  size_t cursor = historyBase_ + history_.size();  // an absolute position in the history
  if (options.resourceVersion.empty() || options.resourceVersion == "0") {
    for (const auto& [key, object] : store_[tkey]) {
      if (inNamespace(type, ns, object) && matches(*labels, *fields, object)) {
        pending.push_back({WatchEventType::kAdded, object});
      }
    }
  } else {
    long from = 0;
    try {
      from = std::stol(options.resourceVersion);
    } catch (const std::exception&) {
      return apiStatus(400, "BadRequest", "invalid resourceVersion " + options.resourceVersion).withContext(where);
    }
    if (from < compactedRv_) {
      return gone("too old resource version: " + options.resourceVersion + " (" + std::to_string(compactedRv_) + ")");
    }
    cursor =
        historyBase_ +
        static_cast<size_t>(std::upper_bound(history_.begin(), history_.end(), from,
                                             [](long value, const HistoryEntry& entry) { return value < entry.rv; }) -
                            history_.begin());
  }
  const long epoch = watchEpoch_;
  ++activeWatches_;
  cv_.notify_all();
  struct Leave {
    InMemoryResourceClient* self;
    std::unique_lock<std::mutex>& lock;
    ~Leave() {
      if (!lock.owns_lock()) lock.lock();
      --self->activeWatches_;
      self->cv_.notify_all();
    }
  } leave{this, lock};

  while (true) {
    // Fallen behind the history limit: what it missed is gone.
    if (cursor < historyBase_)
      return gone("the watch fell behind the kept history (" + std::to_string(compactedRv_) + ")");
    for (; cursor < historyBase_ + history_.size(); ++cursor) {
      const HistoryEntry& entry = history_[cursor - historyBase_];
      if (wanted(entry)) pending.push_back({entry.type, entry.object});
    }
    if (!pending.empty()) {
      lock.unlock();
      for (auto& event : pending) {
        if (stop.stop_requested()) break;
        onEvent(std::move(event));
      }
      pending.clear();
      lock.lock();
      continue;  // more may have arrived while we delivered
    }
    if (stop.stop_requested()) return Status(StatusCode::kCancelled, "watch " + type.resource + " cancelled");
    if (watchEpoch_ != epoch) return endStatus_;
    cv_.wait(lock, stop, [&] { return cursor < historyBase_ + history_.size() || watchEpoch_ != epoch; });
  }
}

Json InMemoryResourceClient::put(const ResourceType& type, Json object) {
  std::lock_guard lock(mu_);
  return putLocked(type, std::move(object));
}

Json InMemoryResourceClient::putKeepingStatus(const ResourceType& type, Json object) {
  std::lock_guard lock(mu_);
  const std::string ns = type.namespaced ? metaString(object, "namespace") : "";
  const Json* stored = findLocked(type, ns, metaString(object, "name"));
  if (!stored) {
    object.erase("status");
    return putLocked(type, std::move(object));
  }
  if (stored->contains("status")) {
    object["status"] = (*stored)["status"];
  } else {
    object.erase("status");
  }
  // Unchanged when it equals the stored object but for what the server keeps.
  Json mine = object;
  Json theirs = *stored;
  for (Json* side : {&mine, &theirs}) {
    for (const char* field : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
      (*side)["metadata"].erase(field);
    }
    side->erase("kind");
    side->erase("apiVersion");
  }
  if (mine == theirs) return *stored;
  return putLocked(type, std::move(object));
}

Json InMemoryResourceClient::putLocked(const ResourceType& type, Json object) {
  std::string ns = type.namespaced ? metaString(object, "namespace") : "";
  std::string name = metaString(object, "name");
  if (!object.contains("metadata")) object["metadata"] = Json::object();
  std::string key = storeKey(type, ns, name);
  const Json* stored = findLocked(type, ns, name);
  if (!stored) {
    object["metadata"].erase("resourceVersion");
    return commitLocked(type, key, nullptr, std::move(object));
  }
  Json previous = *stored;
  return commitLocked(type, key, &previous, std::move(object));
}

std::optional<Json> InMemoryResourceClient::object(const ResourceType& type, const std::string& ns,
                                                   const std::string& name) const {
  std::lock_guard lock(mu_);
  const Json* stored = findLocked(type, ns, name);
  if (!stored) return std::nullopt;
  return *stored;
}

std::vector<Json> InMemoryResourceClient::objects(const ResourceType& type, const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<Json> result;
  auto found = store_.find(typeKey(type));
  if (found == store_.end()) return result;
  for (const auto& [key, object] : found->second) {
    if (inNamespace(type, ns, object)) result.push_back(object);
  }
  return result;
}

void InMemoryResourceClient::endWatches(Status status) {
  {
    std::lock_guard lock(mu_);
    endStatus_ = std::move(status);
    ++watchEpoch_;
  }
  cv_.notify_all();
}

void InMemoryResourceClient::compact() {
  std::lock_guard lock(mu_);
  compactedRv_ = rv_;
}

void InMemoryResourceClient::sendBookmark() {
  {
    std::lock_guard lock(mu_);
    std::vector<std::string> types;
    for (const auto& [tkey, objects] : store_) types.push_back(tkey);
    for (const auto& tkey : types) {
      recordLocked({rv_, tkey, WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}}});
    }
  }
  cv_.notify_all();
}

bool InMemoryResourceClient::waitForWatches(int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return activeWatches_ >= count; });
}

long InMemoryResourceClient::resourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

// Stamps system metadata, stores `next` (or finishes a finalized delete) and records the watch event.
Json InMemoryResourceClient::commitLocked(const ResourceType& type, const std::string& key, const Json* previous,
                                          Json next) {
  Json& meta = next["metadata"];
  if (type.namespaced) {
    meta["namespace"] = previous ? (*previous)["metadata"].value("namespace", "") : meta.value("namespace", "");
  } else {
    meta.erase("namespace");
  }
  if (previous) {
    const Json& before = (*previous)["metadata"];
    meta["name"] = before["name"];
    meta["uid"] = before["uid"];
    meta["creationTimestamp"] = before["creationTimestamp"];
    if (before.contains("deletionTimestamp")) {
      meta["deletionTimestamp"] = before["deletionTimestamp"];
      meta["deletionGracePeriodSeconds"] = before.value("deletionGracePeriodSeconds", 0);
    }
    long generation = before.value("generation", 1L);
    meta["generation"] = specOf(*previous) == specOf(next) ? generation : generation + 1;
  } else {
    meta["uid"] = options_.uidPrefix + std::to_string(++uids_);
    meta["creationTimestamp"] = rfc3339(clock_.wallNow());
    meta["generation"] = 1;
    meta.erase("deletionTimestamp");
  }
  next["kind"] = type.kind;
  next["apiVersion"] = type.apiVersion();
  meta["resourceVersion"] = std::to_string(++rv_);
  const std::string tkey = typeKey(type);
  bool finalized = meta.contains("deletionTimestamp") && (!meta.contains("finalizers") || meta["finalizers"].empty());
  if (finalized) {
    store_[tkey].erase(key);
    recordLocked({rv_, tkey, WatchEventType::kDeleted, next});
  } else {
    store_[tkey][key] = next;
    recordLocked({rv_, tkey, previous ? WatchEventType::kModified : WatchEventType::kAdded, next});
  }
  cv_.notify_all();
  return next;
}

void InMemoryResourceClient::eraseLocked(const ResourceType& type, const std::string& key) {
  const std::string tkey = typeKey(type);
  auto& objects = store_[tkey];
  auto it = objects.find(key);
  Json last = std::move(it->second);
  objects.erase(it);
  last["metadata"]["resourceVersion"] = std::to_string(++rv_);
  recordLocked({rv_, tkey, WatchEventType::kDeleted, std::move(last)});
  cv_.notify_all();
}

void InMemoryResourceClient::recordLocked(HistoryEntry entry) {
  history_.push_back(std::move(entry));
  if (options_.historyLimit == 0 || history_.size() <= options_.historyLimit) return;
  // Drop the older half at once, so trimming is rare; watches from before it get 410 Gone.
  const size_t drop = history_.size() - options_.historyLimit / 2;
  compactedRv_ = std::max(compactedRv_, history_[drop - 1].rv);
  history_.erase(history_.begin(), history_.begin() + static_cast<std::ptrdiff_t>(drop));
  historyBase_ += drop;
}

const Json* InMemoryResourceClient::findLocked(const ResourceType& type, const std::string& ns,
                                               const std::string& name) const {
  auto found = store_.find(typeKey(type));
  if (found == store_.end()) return nullptr;
  auto it = found->second.find(storeKey(type, ns, name));
  return it == found->second.end() ? nullptr : &it->second;
}

}  // namespace sluice::kube
