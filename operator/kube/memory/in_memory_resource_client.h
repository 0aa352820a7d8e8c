// InMemoryResourceClient: a ResourceClient over objects held in memory, with
// the apiserver's semantics where Sluice's controllers and informers rely on
// them. `sluice-operator --local` runs the Manager and every controller over
// one (objects come from the manifests in DIR), and the unit tests' fake
// (tests/fakes/fake_resource_client.h) is this plus injected failures.
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
//     resourceVersion older than the last compaction gives 410 Gone (compact(),
//     or the history limit; a watch that falls that far behind ends with 410
//     too, and an informer relists). Filters by namespace and selectors on the
//     event's object. Blocks until `stop` (kCancelled) or endWatches(status).
//   - Events: with an event observer they are handed to it and not kept (a
//     patch of one, an aggregated count, succeeds and changes nothing).
//   Errors are the same Status codes and "HTTP 409 Conflict: ..." messages
//   (with a "VERB /path" context) that KubeClient produces, via kube::apiError.
//
// Beside the ResourceClient, what another actor (the manifest loader, a test)
// does: put, object(s), endWatches, compact, sendBookmark, waitForWatches.
// Thread-safe: one mutex guards the state; watch callbacks run without it
// held, so a handler may call back into the client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::kube {

struct InMemoryResourceClientOptions {
  // Given: Events go here instead of being kept (the console of --local).
  std::function<void(const Json& event)> eventObserver;
  // The most changes kept for watches to replay (0: all of them, as tests want);
  // older ones are compacted away. A long-running --local keeps its memory bounded.
  size_t historyLimit = 0;
  std::string uidPrefix = "uid-";  // metadata.uid is this and a sequence number
};

class InMemoryResourceClient final : public ResourceClient {
 public:
  explicit InMemoryResourceClient(const Clock& clock = realClock(), InMemoryResourceClientOptions options = {});

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) override;
  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override;
  Result<Json> update(const ResourceType& type, const Json& object) override;
  Result<Json> updateStatus(const ResourceType& type, const Json& object) override;
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const DeleteOptions& options = {}) override;
  Result<Json> patch(const ResourceType& type, const std::string& ns, const std::string& name, PatchType patchType,
                     const Json& patchBody, const PatchOptions& options = {}) override;
  Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
               const std::function<void(WatchEvent&&)>& onEvent, std::stop_token stop) override;

  // Creates or replaces `object` as another actor would: no precondition; the
  // status is the object's own.
  Json put(const ResourceType& type, Json object);
  // The same, but a replaced object keeps its stored status (a manifest read
  // again); nothing is written when that leaves the object as it was.
  Json putKeepingStatus(const ResourceType& type, Json object);
  // The stored object, or nullopt; all stored objects of a type (in a namespace), key order.
  std::optional<Json> object(const ResourceType& type, const std::string& ns, const std::string& name) const;
  std::vector<Json> objects(const ResourceType& type, const std::string& ns = "") const;

  // Every running watch returns `status` after delivering what is pending
  // (OK = server timeout, kUnavailable = dropped connection, ...).
  void endWatches(Status status = Status::ok());
  // Watches from a resourceVersion before now get 410 Gone.
  void compact();
  // A BOOKMARK at the current resourceVersion to watches that allow them.
  void sendBookmark();
  // True once at least `count` watches are running.
  bool waitForWatches(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  long resourceVersion() const;

  // A Status as KubeClient would return for that API answer.
  static Status apiStatus(int code, const std::string& reason, const std::string& message);

 private:
  struct HistoryEntry {
    long rv;
    std::string typeKey;
    WatchEventType type;
    Json object;
  };

  Result<Json> replace(const ResourceType& type, const Json& object, bool statusOnly);
  Json putLocked(const ResourceType& type, Json object);
  Json commitLocked(const ResourceType& type, const std::string& key, const Json* previous, Json next);
  void eraseLocked(const ResourceType& type, const std::string& key);
  void recordLocked(HistoryEntry entry);
  const Json* findLocked(const ResourceType& type, const std::string& ns, const std::string& name) const;
  bool observesEvents(const ResourceType& type) const;

  const Clock& clock_;
  InMemoryResourceClientOptions options_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, std::map<std::string, Json>> store_;  // typeKey -> "ns/name" -> object
  std::deque<HistoryEntry> history_;  // changes after the compacted ones, in resourceVersion order
  size_t historyBase_ = 0;            // how many changes were dropped from the front of history_
  long rv_ = 0;
  long compactedRv_ = 0;
  long uids_ = 0;
  long generated_ = 0;
  long watchEpoch_ = 0;
  Status endStatus_;
  int activeWatches_ = 0;
};

}  // namespace sluice::kube
