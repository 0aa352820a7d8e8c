// FakeResourceClient: the in-memory kube::ResourceClient of the unit tests
// (controller-runtime's fake client, plus a watch feed so an Informer can run
// on it): kube::InMemoryResourceClient (operator/kube/memory, whose header
// says what of the apiserver it models), the one --local runs on, with the
// test hooks below in front of it.
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
// Thread-safe: one mutex guards the hooks; the server has its own, and watch
// callbacks run without either held, so a handler may call back into the fake.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "kube/memory/in_memory_resource_client.h"
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

  explicit FakeResourceClient(Clock& clock = realClock()) : server_(clock, serverOptions()) {}

  // ---- ResourceClient: the hooks, then the in-memory server ----

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override {
    if (auto s = begin("get", type, ns, name, nullptr); !s.isOk()) return s;
    return server_.get(type, ns, name);
  }

  Result<Json> list(const ResourceType& type, const std::string& ns, const kube::ListOptions& options) override {
    if (auto s = begin("list", type, ns, "", nullptr); !s.isOk()) return s;
    return server_.list(type, ns, options);
  }

  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override {
    if (auto s = begin("create", type, ns, metaString(object, "name"), &object); !s.isOk()) return s;
    return server_.create(type, ns, object);
  }

  Result<Json> update(const ResourceType& type, const Json& object) override {
    if (auto s = beginReplace("update", type, object); !s.isOk()) return s;
    return server_.update(type, object);
  }

  Result<Json> updateStatus(const ResourceType& type, const Json& object) override {
    if (auto s = beginReplace("updateStatus", type, object); !s.isOk()) return s;
    return server_.updateStatus(type, object);
  }

  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const kube::DeleteOptions& options = {}) override {
    if (auto s = begin("delete", type, ns, name, nullptr); !s.isOk()) return s;
    return server_.remove(type, ns, name, options);
  }

  Result<Json> patch(const ResourceType& type, const std::string& ns, const std::string& name,
                     kube::PatchType patchType, const Json& patchBody,
                     const kube::PatchOptions& options = {}) override {
    if (auto s = begin("patch", type, ns, name, &patchBody); !s.isOk()) return s;
    return server_.patch(type, ns, name, patchType, patchBody, options);
  }

  Status watch(const ResourceType& type, const std::string& ns, const kube::WatchOptions& options,
               const std::function<void(kube::WatchEvent&&)>& onEvent, std::stop_token stop) override {
    if (auto s = begin("watch", type, ns, "", nullptr); !s.isOk()) return s;
    return server_.watch(type, ns, options, onEvent, std::move(stop));
  }

  // ---- test-side API ----

  Json put(const ResourceType& type, Json object) { return server_.put(type, std::move(object)); }
  std::optional<Json> object(const ResourceType& type, const std::string& ns, const std::string& name) const {
    return server_.object(type, ns, name);
  }
  std::vector<Json> objects(const ResourceType& type, const std::string& ns = "") const {
    return server_.objects(type, ns);
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

  void endWatches(Status status = Status::ok()) { server_.endWatches(std::move(status)); }
  void compact() { server_.compact(); }
  void sendBookmark() { server_.sendBookmark(); }
  bool waitForWatches(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return server_.waitForWatches(count, timeout);
  }
  long resourceVersion() const { return server_.resourceVersion(); }

  static Status apiStatus(int code, const std::string& reason, const std::string& message) {
    return kube::InMemoryResourceClient::apiStatus(code, reason, message);
  }

 private:
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

  static kube::InMemoryResourceClientOptions serverOptions() {
    kube::InMemoryResourceClientOptions options;
    options.uidPrefix = "fake-uid-";
    return options;
  }

  static std::string metaString(const Json& object, const char* field) {
    if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return "";
    const Json& value = object["metadata"].contains(field) ? object["metadata"][field] : Json();
    return value.is_string() ? value.get<std::string>() : "";
  }

  Status beginReplace(const std::string& verb, const ResourceType& type, const Json& object) {
    return begin(verb, type, type.namespaced ? metaString(object, "namespace") : "", metaString(object, "name"),
                 &object);
  }

  // Runs a due beforeNext action, records the call and returns the injected failure, if one is due.
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

  kube::InMemoryResourceClient server_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  std::vector<Interception> interceptions_;
  std::vector<Call> calls_;
};

}  // namespace sluice::testing
