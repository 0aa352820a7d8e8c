// Informer: keeps an ObjectCache in step with one collection on the apiserver
// and tells handlers what changed (client-go's SharedIndexInformer, simplified).
//
// The reflector lists (in pages) then watches from the list's resourceVersion
// with bookmarks and a server-side timeout, resumes from the last seen
// resourceVersion when a watch ends or its connection drops, and relists when
// the server answers 410 Gone. A relist compares with the cache so objects
// deleted while we were not watching are reported as deletes (also those
// replaced by a new object of the same name: a changed UID is a delete and an
// add, never an update). Events are applied and handed to handlers on one
// thread, in the order the server sent them. A resync thread periodically
// re-delivers every object as an update.
//
// Cached objects have no metadata.managedFields and no kubectl last-applied-configuration
// annotation (trimmed on arrival; see informer.cpp), and pass InformerOptions::transform. They are for reading: nothing
// sends a cached object back whole (status writes ignore metadata, other writes are patches).
//
// Thread-safety: every method may be called from any thread. Handlers run one
// at a time (never concurrently with each other) and must not block for long.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"

namespace sluice::kube {

struct EventHandler {
  std::function<void(const Json& object)> onAdd;
  std::function<void(const Json& previous, const Json& current)> onUpdate;
  std::function<void(const Json& object)> onDelete;
};

struct InformerOptions {
  // Empty: all namespaces. Several namespaces separated by commas ("a,b"):
  // one list+watch per namespace into the one cache (for an operator whose
  // RBAC is a Role per namespace, not a ClusterRole).
  std::string ns;
  std::string labelSelector;
  std::string fieldSelector;
  int pageSize = 500;
  int watchTimeoutSeconds = 300;
  Clock::Duration resyncPeriod = Clock::Duration::zero();  // zero: no resync
  Clock::Duration maxBackoff = std::chrono::seconds(30);
  // Applied to every object before it is cached or handed to a handler (after
  // managedFields and the last-applied annotation are gone): cuts it to what
  // its readers read, as api::trimPodForCache does for pods. Empty: none.
  std::function<void(Json&)> transform;
};

class Informer {
 public:
  Informer(ResourceClient& client, ResourceType type, InformerOptions options, Clock& clock);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after the first sync first receive onAdd for every cached object.
  void addHandler(EventHandler handler);

  // Starts the reflector (and resync) threads; stop() or the destructor ends them.
  void start();
  void stop();

  bool hasSynced() const { return synced_.load(); }
  // Waits until the first list is in the cache; false if `stop` came first.
  bool waitForSync(std::stop_token stop);

  const ObjectCache& cache() const { return cache_; }
  const ResourceType& type() const { return type_; }

  // Observability for tests and benchmarks. A list is counted before its changes reach the cache
  // or the handlers, so a caller that saw one of them (or waitForSync) sees it counted.
  int relistCount() const { return relists_.load(); }
  int watchCount() const { return watches_.load(); }
  long eventsApplied() const { return eventsApplied_.load(); }
  std::string lastResourceVersion() const;

 private:
  void reflectorLoop(std::stop_token stop, const std::string& ns);
  void resyncLoop(std::stop_token stop);
  Status listAndReplace(std::stop_token stop, const std::string& ns);
  void apply(WatchEvent&& event, const std::string& ns);
  // Hands handlers the change of a cached object (an update, or a delete plus an add when its UID
  // changed). Caller holds handlersMu_.
  void deliverChange(const Json& previous, const Json& current);

  ResourceClient& client_;
  const ResourceType type_;
  const InformerOptions options_;
  Clock& clock_;
  ObjectCache cache_;

  std::mutex handlersMu_;  // serialises handler calls and guards handlers_
  std::vector<EventHandler> handlers_;

  mutable std::mutex stateMu_;
  std::condition_variable_any syncedCv_;
  std::map<std::string, std::string> resourceVersions_;  // by namespace of namespaces_
  std::atomic<bool> synced_{false};                      // every namespace listed once
  std::atomic<int> relists_{0};
  std::atomic<int> watches_{0};
  std::atomic<long> eventsApplied_{0};

  const std::vector<std::string> namespaces_;  // options_.ns split at commas ("" alone: all)
  std::vector<std::jthread> reflectors_;       // one per namespace
  std::jthread resync_;
};

}  // namespace sluice::kube
