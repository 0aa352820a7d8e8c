// Controller: N workers pulling keys from a WorkQueue and calling a
// Reconciler, started only after every watched informer has synced (so the
// first reconcile sees a full cache). Wiring, as controller-runtime's builder:
//   watchFor(informer, predicate)      enqueue the object's own key;
//   watchOwned(informer, ownerKind)    enqueue the controlling owner's key
//                                      (and lower its Expectations, if given);
//   watchMapped(informer, map[, pred]) enqueue the keys map() names (a Trigger
//                                      enqueues the Function it refers to); an
//                                      update only when pred (if given) passes.
// Thread-safety: wire before run(); enqueue() from any thread.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "kube/informer.h"
#include "reconcile/controller_metrics.h"
#include "reconcile/expectations.h"
#include "reconcile/reconciler.h"
#include "reconcile/work_queue.h"

namespace sluice::reconcile {

// Decides whether an update is worth a reconcile.
using UpdatePredicate = std::function<bool(const kube::Json& previous, const kube::Json& current)>;

// metadata.generation changed (spec edits, not status writes or resyncs).
bool generationChanged(const kube::Json& previous, const kube::Json& current);

// Keys ("namespace/name") an object's change concerns.
using KeyMapper = std::function<std::vector<std::string>(const kube::Json& object)>;

// "namespace/name" of the object's controlling owner of `ownerKind`, or "".
std::string controllerOwnerKey(const kube::Json& object, const std::string& ownerKind);

// The `result` label of a reconcile (controller_metrics.h names them).
const char* reconcileResultLabel(const ReconcileResult& result);

// Whether this process reconciles `key` (a sharded operator: reconcile/shards.h).
using KeyFilter = std::function<bool(const std::string& key)>;

struct ControllerOptions {
  std::string name;
  int workers = 2;
  ControllerMetrics* metrics = nullptr;  // none: not reported; must outlive the Controller
  // None: every key. Else a key it refuses is dropped when a worker takes it
  // (not at enqueue: ownership moves while keys wait), and resync() brings it
  // back once it is owned.
  KeyFilter owns = nullptr;
};

class Controller {
 public:
  Controller(ControllerOptions options, Reconciler& reconciler, Clock& clock,
             std::unique_ptr<RateLimiter> rateLimiter = nullptr);

  void watchFor(kube::Informer& informer, UpdatePredicate predicate = nullptr);
  void watchOwned(kube::Informer& informer, const std::string& ownerKind, Expectations* expectations = nullptr);
  void watchMapped(kube::Informer& informer, KeyMapper map, UpdatePredicate predicate = nullptr);

  void enqueue(const std::string& key) { queue_.add(key); }

  // Enqueues the keys of every object in the caches it watches (watchFor,
  // watchMapped), as their add events did: for a replica that just gained a
  // bucket of a sharded operator. Any thread.
  void resync();

  // Waits for the watched informers to sync, runs the workers until `stop`,
  // then lets in-flight reconciles finish.
  void run(std::stop_token stop);

  const std::string& name() const { return options_.name; }
  WorkQueue& queue() { return queue_; }

 private:
  void worker();

  ControllerOptions options_;
  Reconciler& reconciler_;
  Clock& clock_;
  WorkQueue queue_;
  std::vector<kube::Informer*> informers_;
  std::vector<std::function<void()>> resyncs_;  // one per watchFor/watchMapped
};

}  // namespace sluice::reconcile
