// FakeResourceClient: an in-memory kube::ResourceClient for controller unit
// tests (controller-runtime's fake client, plus a watch feed so an Informer
// can run on it).
//
// What it models, as the apiserver does:
//   - Objects as JSON per resource (group + plural), namespace and name. Every
//     write takes the next resourceVersion from one global counter (like etcd);
//     create assigns metadata.uid, creationTimestamp (from the Clock) and
//     generation 1; a write that changes anything outside metadata and status
//     bumps generation. kind/apiVersion are filled from the ResourceType.
//   - create: 409 AlreadyExists; metadata.generateName is honoured.
//   - update/updateStatus: 404 NotFound; 409 Conflict when metadata.resourceVersion
//     is set and stale (empty = unconditional). Every type behaves as if it has a
//     status subresource: create drops status, update keeps the stored status,
//     updateStatus changes only status.
//   - patch: merge (RFC 7386), JSON patch (RFC 6902), strategic merge (treated
//     as merge: lists are replaced), apply (treated as merge that creates when
//     missing; fieldManager required; NO field ownership or conflicts). A
//     metadata.resourceVersion in a merge/apply body is a precondition (409).
//     subresource "status" patches only status.
//   - remove: 404; preconditions (uid, resourceVersion) give 409. An object with
//     finalizers gets deletionTimestamp instead and goes away when a later write
//     leaves its finalizers empty. No garbage collector: dependents stay.
//   - list: label selectors (=, ==, !=, in, notin, key, !key) and field selectors
//     (=, ==, != on any dotted path, e.g. metadata.name, status.phase); limit and
//     continue page in key order over the current state (no snapshot).
//   - watch: from resourceVersion N replays every later change then follows live
//     ones; "" or "0" first sends ADDED for every current object. A
//     resourceVersion older than the last compact() gives 410 Gone. Filters by
//     namespace and selectors on the event's object. Blocks until `stop`
//     (kCancelled) or endWatches(status).
//   Errors are the same Status codes and "HTTP 409 Conflict: ..." messages
//   (with a "VERB /path" context) that KubeClient produces, via kube::apiError.
//
// Test-side API (none of it is recorded as a call or subject to failNext):
//   put(type, object)          create-or-replace as another actor would (status kept), emits events
//   object(type, ns, name)     the stored object, or nullopt
//   objects(type, ns = "")     all stored objects of a type (in a namespace), key order
//   failNext(verb, status, times = 1, resource = "")
//                              the next `times` calls of verb ("get", "list", "create", "update",
//                              "updateStatus", "patch", "delete", "watch"; resource "" = any) fail
//   beforeNext(verb, resource, action)
//                              runs `action` once, just before the next call of verb on resource
//                              ("" = any) is served: another actor's change that lands while the
//                              code under test is between two steps (a watch event in a race window)
//   calls(), callCount(verb, resource = ""), clearCalls()
//                              every client call: verb, resource, namespace, name, body sent
//   endWatches(status = OK)    every running watch returns `status` after delivering what is pending
//                              (OK = server timeout, kUnavailable = dropped connection, ...)
//   compact()                  watches from a resourceVersion before now get 410 Gone
//   sendBookmark()             a BOOKMARK at the current resourceVersion to watches that allow them
//   waitForWatches(n, timeout) true once at least n watches are running
//   resourceVersion()          the latest resourceVersion
//   apiStatus(code, reason, message)
//                              a Status as KubeClient would return for that API answer (for failNext)
//
// Thread-safe: one mutex guards the state; watch callbacks run without it held,
// so a handler may call back into the fake.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"
#include "kube/api_error.h"
#include "kube/resource_client.h"

namespace sluice::testing {

class FakeResourceClient final : public kube::ResourceClient {
 public:
  using Json = kube::Json;
  using ResourceType = kube::ResourceType;

  struct Call {
    std::string verb;
    std::string resource;
    std::string ns;
    std::string name;
    Json body;  // the object or patch sent (null for reads and deletes)
  };

  explicit FakeResourceClient(Clock& clock = realClock()) : clock_(clock) {}

  // ---- ResourceClient ----

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override {
    if (auto s = begin("get", type, ns, name, nullptr); !s.isOk()) return s;
    std::lock_guard lock(mu_);
    auto* stored = findLocked(type, ns, name);
    if (!stored) return notFoundError("GET", type, ns, name);
    return *stored;
  }

  Result<Json> list(const ResourceType& type, const std::string& ns, const kube::ListOptions& options) override {
    if (auto s = begin("list", type, ns, "", nullptr); !s.isOk()) return s;
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

  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override {
    std::string name = metaString(object, "name");
    if (auto s = begin("create", type, ns, name, &object); !s.isOk()) return s;
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

  Result<Json> update(const ResourceType& type, const Json& object) override {
    return replace("update", type, object, /*statusOnly=*/false);
  }

  Result<Json> updateStatus(const ResourceType& type, const Json& object) override {
    return replace("updateStatus", type, object, /*statusOnly=*/true);
  }

  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const kube::DeleteOptions& options = {}) override {
    if (auto s = begin("delete", type, ns, name, nullptr); !s.isOk()) return s;
    std::string where = "DELETE " + type.path(ns, name);
    std::lock_guard lock(mu_);
    auto* stored = findLocked(type, ns, name);
    if (!stored) return notFoundError("DELETE", type, ns, name);
    const Json& meta = (*stored)["metadata"];
    if (!options.preconditionUid.empty() && options.preconditionUid != meta.value("uid", "")) {
      return apiStatus(409, "Conflict",
                       "Precondition failed: UID in precondition: " + options.preconditionUid +
                           ", UID in object meta: " + meta.value("uid", ""))
          .withContext(where);
    }
    if (!options.preconditionResourceVersion.empty() &&
        options.preconditionResourceVersion != meta.value("resourceVersion", "")) {
      return apiStatus(409, "Conflict",
                       "Precondition failed: ResourceVersion in precondition: " + options.preconditionResourceVersion +
                           ", ResourceVersion in object meta: " + meta.value("resourceVersion", ""))
          .withContext(where);
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

  Result<Json> patch(const ResourceType& type, const std::string& ns, const std::string& name,
                     kube::PatchType patchType, const Json& patchBody,
                     const kube::PatchOptions& options = {}) override {
    if (auto s = begin("patch", type, ns, name, &patchBody); !s.isOk()) return s;
    std::string where = "PATCH " + type.path(ns, name, options.subresource);
    if (patchType == kube::PatchType::kApply && options.fieldManager.empty()) {
      return invalidArgument("server-side apply of " + type.resource + "/" + name + ": fieldManager is required");
    }
    bool statusOnly = options.subresource == "status";
    if (!options.subresource.empty() && !statusOnly) {
      return apiStatus(404, "NotFound", "the fake has no subresource " + options.subresource).withContext(where);
    }
    std::lock_guard lock(mu_);
    std::string key = storeKey(type, ns, name);
    auto* stored = findLocked(type, ns, name);
    if (!stored && !(patchType == kube::PatchType::kApply && !statusOnly)) {
      return notFoundError("PATCH", type, ns, name);
    }
    if (patchType != kube::PatchType::kJson && patchBody.is_object() && patchBody.contains("metadata") &&
        patchBody["metadata"].is_object() && patchBody["metadata"].contains("resourceVersion") && stored &&
        patchBody["metadata"]["resourceVersion"] != (*stored)["metadata"]["resourceVersion"]) {
      return conflictError(where, type, name);
    }
    Json previous = stored ? *stored : Json();
    Json next = stored ? *stored : Json{{"metadata", {{"name", name}}}};
    try {
      if (patchType == kube::PatchType::kJson) {
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
    return commitLocked(type, key, &previous, std::move(next));
  }

  Status watch(const ResourceType& type, const std::string& ns, const kube::WatchOptions& options,
               const std::function<void(kube::WatchEvent&&)>& onEvent, std::stop_token stop) override {
    if (auto s = begin("watch", type, ns, "", nullptr); !s.isOk()) return s;
    std::string where = "GET " + type.path(ns) + "?watch=true";
    auto labels = parseLabelSelector(options.labelSelector);
    if (!labels) return labels.status().withContext(where);
    auto fields = parseFieldSelector(options.fieldSelector);
    if (!fields) return fields.status().withContext(where);
    const std::string tkey = typeKey(type);
    auto wanted = [&](const HistoryEntry& entry) {
      if (entry.typeKey != tkey) return false;
      if (entry.type == kube::WatchEventType::kBookmark) return options.allowBookmarks;
      return inNamespace(type, ns, entry.object) && matches(*labels, *fields, entry.object);
    };

    std::unique_lock lock(mu_);
    std::vector<kube::WatchEvent> pending;
    size_t cursor = history_.size();
    if (options.resourceVersion.empty() || options.resourceVersion == "0") {
      for (const auto& [key, object] : store_[tkey]) {
        if (inNamespace(type, ns, object) && matches(*labels, *fields, object)) {
          pending.push_back({kube::WatchEventType::kAdded, object});
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
        return apiStatus(
                   410, "Expired",
                   "too old resource version: " + options.resourceVersion + " (" + std::to_string(compactedRv_) + ")")
            .withContext(where);
      }
      cursor =
          static_cast<size_t>(std::upper_bound(history_.begin(), history_.end(), from,
                                               [](long value, const HistoryEntry& entry) { return value < entry.rv; }) -
                              history_.begin());
    }
    const long epoch = watchEpoch_;
    ++activeWatches_;
    cv_.notify_all();
    struct Leave {
      FakeResourceClient* self;
      std::unique_lock<std::mutex>& lock;
      ~Leave() {
        if (!lock.owns_lock()) lock.lock();
        --self->activeWatches_;
        self->cv_.notify_all();
      }
    } leave{this, lock};

    while (true) {
      for (; cursor < history_.size(); ++cursor) {
        if (wanted(history_[cursor])) pending.push_back({history_[cursor].type, history_[cursor].object});
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
      cv_.wait(lock, stop, [&] { return cursor < history_.size() || watchEpoch_ != epoch; });
    }
  }

  // ---- test-side API ----

  // Creates or replaces `object` as another actor would: no precondition, status kept.
  Json put(const ResourceType& type, Json object) {
    std::lock_guard lock(mu_);
    std::string ns = type.namespaced ? metaString(object, "namespace") : "";
    std::string name = metaString(object, "name");
    if (!object.contains("metadata")) object["metadata"] = Json::object();
    std::string key = storeKey(type, ns, name);
    auto* stored = findLocked(type, ns, name);
    if (!stored) {
      object["metadata"].erase("resourceVersion");
      return commitLocked(type, key, nullptr, std::move(object));
    }
    Json previous = *stored;
    return commitLocked(type, key, &previous, std::move(object));
  }

  std::optional<Json> object(const ResourceType& type, const std::string& ns, const std::string& name) const {
    std::lock_guard lock(mu_);
    const Json* stored = findLocked(type, ns, name);
    if (!stored) return std::nullopt;
    return *stored;
  }

  std::vector<Json> objects(const ResourceType& type, const std::string& ns = "") const {
    std::lock_guard lock(mu_);
    std::vector<Json> result;
    auto found = store_.find(typeKey(type));
    if (found == store_.end()) return result;
    for (const auto& [key, object] : found->second) {
      if (inNamespace(type, ns, object)) result.push_back(object);
    }
    return result;
  }

  void beforeNext(const std::string& verb, const std::string& resource, std::function<void()> action) {
    std::lock_guard lock(mu_);
    interceptions_.push_back({verb, resource, std::move(action)});
  }

  void failNext(const std::string& verb, Status status, int times = 1, const std::string& resource = "") {
    std::lock_guard lock(mu_);
    faults_.push_back({verb, resource, std::move(status), times});
  }

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

  int callCount(const std::string& verb, const std::string& resource = "") const {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count_if(calls_.begin(), calls_.end(), [&](const Call& c) {
      return c.verb == verb && (resource.empty() || c.resource == resource);
    }));
  }

  void clearCalls() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

  void endWatches(Status status = Status::ok()) {
    {
      std::lock_guard lock(mu_);
      endStatus_ = std::move(status);
      ++watchEpoch_;
    }
    cv_.notify_all();
  }

  void compact() {
    std::lock_guard lock(mu_);
    compactedRv_ = rv_;
  }

  void sendBookmark() {
    {
      std::lock_guard lock(mu_);
      std::vector<std::string> types;
      for (const auto& [tkey, objects] : store_) types.push_back(tkey);
      for (const auto& tkey : types) {
        history_.push_back(
            {rv_, tkey, kube::WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}}});
      }
    }
    cv_.notify_all();
  }

  bool waitForWatches(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return activeWatches_ >= count; });
  }

  long resourceVersion() const {
    std::lock_guard lock(mu_);
    return rv_;
  }

  static Status apiStatus(int code, const std::string& reason, const std::string& message) {
    Json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                   {"reason", reason}, {"message", message}, {"code", code}};
    return kube::apiError(code, status.dump());
  }

 private:
  struct HistoryEntry {
    long rv;
    std::string typeKey;
    kube::WatchEventType type;
    Json object;
  };
  struct Fault {
    std::string verb;
    std::string resource;
    Status status;
    int remaining;
  };
  struct Interception {
    std::string verb;
    std::string resource;
    std::function<void()> action;
  };
  struct Requirement {
    enum Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists } op;
    std::string key;
    std::vector<std::string> values;
  };
  using Selector = std::vector<Requirement>;

  static inline const std::string kContinuePrefix = "fake-continue:";

  // Records the call and returns the injected failure, if one is due.
  Status begin(const std::string& verb, const ResourceType& type, const std::string& ns, const std::string& name,
               const Json* body) {
    std::function<void()> action;
    {
      std::lock_guard lock(mu_);
      auto due = std::find_if(interceptions_.begin(), interceptions_.end(), [&](const Interception& i) {
        return i.verb == verb && (i.resource.empty() || i.resource == type.resource);
      });
      if (due != interceptions_.end()) {
        action = std::move(due->action);
        interceptions_.erase(due);
      }
    }
    // Without the lock: the action is another actor and may call into the fake.
    if (action) action();
    std::lock_guard lock(mu_);
    calls_.push_back({verb, type.resource, ns, name, body ? *body : Json()});
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->verb != verb || (!it->resource.empty() && it->resource != type.resource)) continue;
      Status status = it->status;
      if (--it->remaining <= 0) faults_.erase(it);
      return status;
    }
    return Status::ok();
  }

  Result<Json> replace(const std::string& verb, const ResourceType& type, const Json& object, bool statusOnly) {
    std::string ns = type.namespaced ? metaString(object, "namespace") : "";
    std::string name = metaString(object, "name");
    if (auto s = begin(verb, type, ns, name, &object); !s.isOk()) return s;
    if (name.empty()) return invalidArgument("update of " + type.resource + ": metadata.name is empty");
    std::string where = "PUT " + type.path(ns, name, statusOnly ? "status" : "");
    std::lock_guard lock(mu_);
    auto* stored = findLocked(type, ns, name);
    if (!stored) return notFoundError("PUT", type, ns, name);
    std::string wantVersion = metaString(object, "resourceVersion");
    if (!wantVersion.empty() && wantVersion != (*stored)["metadata"].value("resourceVersion", "")) {
      return conflictError(where, type, name);
    }
    Json previous = *stored;
    Json next;
    if (statusOnly) {
      next = previous;
      if (object.contains("status")) {
        next["status"] = object["status"];
      } else {
        next.erase("status");
      }
    } else {
      next = object;
      if (previous.contains("status")) {
        next["status"] = previous["status"];
      } else {
        next.erase("status");
      }
    }
    return commitLocked(type, storeKey(type, ns, name), &previous, std::move(next));
  }

  // Stamps system metadata, stores `next` (or finishes a finalized delete) and records the watch event.
  Json commitLocked(const ResourceType& type, const std::string& key, const Json* previous, Json next) {
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
      meta["uid"] = "fake-uid-" + std::to_string(++uids_);
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
      history_.push_back({rv_, tkey, kube::WatchEventType::kDeleted, next});
    } else {
      store_[tkey][key] = next;
      history_.push_back({rv_, tkey, previous ? kube::WatchEventType::kModified : kube::WatchEventType::kAdded, next});
    }
    cv_.notify_all();
    return next;
  }

  void eraseLocked(const ResourceType& type, const std::string& key) {
    const std::string tkey = typeKey(type);
    auto& objects = store_[tkey];
    auto it = objects.find(key);
    Json last = std::move(it->second);
    objects.erase(it);
    last["metadata"]["resourceVersion"] = std::to_string(++rv_);
    history_.push_back({rv_, tkey, kube::WatchEventType::kDeleted, std::move(last)});
    cv_.notify_all();
  }

  const Json* findLocked(const ResourceType& type, const std::string& ns, const std::string& name) const {
    auto found = store_.find(typeKey(type));
    if (found == store_.end()) return nullptr;
    auto it = found->second.find(storeKey(type, ns, name));
    return it == found->second.end() ? nullptr : &it->second;
  }

  static std::string typeKey(const ResourceType& type) { return type.resource + "." + type.group; }
  static std::string qualified(const ResourceType& type) {
    return type.group.empty() ? type.resource : type.resource + "." + type.group;
  }
  static std::string storeKey(const ResourceType& type, const std::string& ns, const std::string& name) {
    return kube::objectKey(type.namespaced ? ns : "", name);
  }
  static std::string metaString(const Json& object, const char* field) {
    if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return "";
    const Json& value = object["metadata"].contains(field) ? object["metadata"][field] : Json();
    return value.is_string() ? value.get<std::string>() : "";
  }
  static Json specOf(const Json& object) {
    Json spec = object;
    spec.erase("metadata");
    spec.erase("status");
    spec.erase("kind");
    spec.erase("apiVersion");
    return spec;
  }
  static bool inNamespace(const ResourceType& type, const std::string& ns, const Json& object) {
    return !type.namespaced || ns.empty() || metaString(object, "namespace") == ns;
  }
  static std::string generatedSuffix(long n) {
    static const std::string alphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::string suffix;
    for (int i = 0; i < 5; ++i, n /= static_cast<long>(alphabet.size())) suffix += alphabet[n % alphabet.size()];
    return suffix;
  }
  static Status notFoundError(const std::string& method, const ResourceType& type, const std::string& ns,
                              const std::string& name) {
    return apiStatus(404, "NotFound", qualified(type) + " \"" + name + "\" not found")
        .withContext(method + " " + type.path(ns, name));
  }
  static Status conflictError(const std::string& where, const ResourceType& type, const std::string& name) {
    return apiStatus(409, "Conflict",
                     "Operation cannot be fulfilled on " + qualified(type) + " \"" + name +
                         "\": the object has been modified; please apply your changes to the latest version and "
                         "try again")
        .withContext(where);
  }

  static std::string trim(const std::string& s) {
    auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
  }

  // Splits at commas outside parentheses.
  static std::vector<std::string> terms(const std::string& selector) {
    std::vector<std::string> result;
    std::string current;
    int depth = 0;
    for (char c : selector) {
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (c == ',' && depth == 0) {
        result.push_back(trim(current));
        current.clear();
      } else {
        current += c;
      }
    }
    if (!trim(current).empty() || !result.empty()) result.push_back(trim(current));
    return result;
  }

  static Result<Selector> parseLabelSelector(const std::string& selector) {
    Selector result;
    for (const auto& term : terms(selector)) {
      auto bad = [&] { return apiStatus(400, "BadRequest", "unable to parse requirement: \"" + term + "\""); };
      if (term.empty()) return bad();
      Requirement r{};
      if (term[0] == '!') {
        r.op = Requirement::kNotExists;
        r.key = trim(term.substr(1));
      } else if (auto open = term.find('('); open != std::string::npos) {
        auto close = term.rfind(')');
        if (close == std::string::npos || close < open) return bad();
        std::string head = trim(term.substr(0, open));
        auto space = head.find_last_of(" \t");
        if (space == std::string::npos) return bad();
        std::string word = head.substr(space + 1);
        r.key = trim(head.substr(0, space));
        if (word == "in") {
          r.op = Requirement::kIn;
        } else if (word == "notin") {
          r.op = Requirement::kNotIn;
        } else {
          return bad();
        }
        std::string inside = term.substr(open + 1, close - open - 1);
        size_t start = 0;
        while (true) {
          auto comma = inside.find(',', start);
          r.values.push_back(
              trim(inside.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      } else if (auto ne = term.find("!="); ne != std::string::npos) {
        r.op = Requirement::kNotEquals;
        r.key = trim(term.substr(0, ne));
        r.values = {trim(term.substr(ne + 2))};
      } else if (auto eq = term.find('='); eq != std::string::npos) {
        r.op = Requirement::kEquals;
        r.key = trim(term.substr(0, eq));
        size_t valueStart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
        r.values = {trim(term.substr(valueStart))};
      } else {
        r.op = Requirement::kExists;
        r.key = term;
      }
      auto validName = [](const std::string& text) {
        return std::all_of(text.begin(), text.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./", c);
        });
      };
      if (r.key.empty() || !validName(r.key)) return bad();
      for (const auto& value : r.values) {
        if (!validName(value)) return bad();
      }
      result.push_back(std::move(r));
    }
    return result;
  }

  static Result<Selector> parseFieldSelector(const std::string& selector) {
    Selector result;
    for (const auto& term : terms(selector)) {
      Requirement r{};
      auto ne = term.find("!=");
      auto eq = term.find('=');
      if (ne != std::string::npos) {
        r.op = Requirement::kNotEquals;
        r.key = trim(term.substr(0, ne));
        r.values = {trim(term.substr(ne + 2))};
      } else if (eq != std::string::npos) {
        r.op = Requirement::kEquals;
        r.key = trim(term.substr(0, eq));
        r.values = {trim(term.substr(term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1))};
      }
      if (r.key.empty()) {
        return apiStatus(400, "BadRequest", "invalid field selector: \"" + term + "\"");
      }
      result.push_back(std::move(r));
    }
    return result;
  }

  static std::optional<std::string> labelOf(const Json& object, const std::string& key) {
    if (!object.contains("metadata") || !object["metadata"].contains("labels")) return std::nullopt;
    const Json& labels = object["metadata"]["labels"];
    if (!labels.is_object() || !labels.contains(key) || !labels[key].is_string()) return std::nullopt;
    return labels[key].get<std::string>();
  }

  static std::optional<std::string> fieldOf(const Json& object, const std::string& path) {
    const Json* node = &object;
    size_t start = 0;
    while (true) {
      auto dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->is_object() || !node->contains(part)) return std::nullopt;
      node = &(*node)[part];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (node->is_string()) return node->get<std::string>();
    if (node->is_null()) return std::nullopt;
    return node->dump();
  }

  static bool satisfied(const Requirement& r, const std::optional<std::string>& value) {
    auto inValues = [&] { return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end(); };
    switch (r.op) {
      case Requirement::kEquals: return inValues();
      case Requirement::kNotEquals: return !inValues();
      case Requirement::kIn: return inValues();
      case Requirement::kNotIn: return !inValues();
      case Requirement::kExists: return value.has_value();
      case Requirement::kNotExists: return !value.has_value();
    }
    return false;
  }

  static bool matches(const Selector& labels, const Selector& fields, const Json& object) {
    for (const auto& r : labels) {
      if (!satisfied(r, labelOf(object, r.key))) return false;
    }
    for (const auto& r : fields) {
      // A missing field compares as "", as the apiserver's field sets do.
      auto value = fieldOf(object, r.key);
      if (!satisfied(r, value.value_or(""))) return false;
    }
    return true;
  }

  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, std::map<std::string, Json>> store_;  // typeKey -> "ns/name" -> object
  std::vector<HistoryEntry> history_;                         // every change, in resourceVersion order
  std::vector<Fault> faults_;
  std::vector<Interception> interceptions_;
  std::vector<Call> calls_;
  long rv_ = 0;
  long compactedRv_ = 0;
  long uids_ = 0;
  long generated_ = 0;
  long watchEpoch_ = 0;
  Status endStatus_;
  int activeWatches_ = 0;
};

}  // namespace sluice::testing
