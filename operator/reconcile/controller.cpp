#include "reconcile/controller.h"

#include <chrono>
#include <thread>
#include <utility>

#include "common/logging.h"

namespace sluice::reconcile {

using kube::Json;

bool generationChanged(const Json& previous, const Json& current) {
  auto generation = [](const Json& o) -> long long {
    if (!o.contains("metadata")) return 0;
    return o["metadata"].value("generation", 0LL);
  };
  return generation(previous) != generation(current);
}

std::string controllerOwnerKey(const Json& object, const std::string& ownerKind) {
  if (!object.contains("metadata")) return "";
  const Json& meta = object["metadata"];
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return "";
  for (auto& ref : meta["ownerReferences"]) {
    if (ref.value("controller", false) && ref.value("kind", "") == ownerKind) {
      return kube::objectKey(meta.value("namespace", ""), ref.value("name", ""));
    }
  }
  return "";
}

Controller::Controller(ControllerOptions options, Reconciler& reconciler, Clock& clock,
                       std::unique_ptr<RateLimiter> rateLimiter)
    : options_(std::move(options)), reconciler_(reconciler), clock_(clock), queue_(clock, std::move(rateLimiter)) {
  if (options_.metrics) queue_.setMetrics(options_.metrics, options_.name);
}

void Controller::watchFor(kube::Informer& informer, UpdatePredicate predicate) {
  informers_.push_back(&informer);
  resyncs_.push_back([this, &informer] {
    for (const kube::ObjectPtr& o : informer.cache().list()) queue_.add(kube::objectKey(*o));
  });
  informer.addHandler(
      kube::EventHandler{[this](const Json& o) { queue_.add(kube::objectKey(o)); },
                         [this, predicate = std::move(predicate)](const Json& previous, const Json& current) {
                           if (!predicate || predicate(previous, current)) queue_.add(kube::objectKey(current));
                         },
                         [this](const Json& o) { queue_.add(kube::objectKey(o)); }});
}

void Controller::watchOwned(kube::Informer& informer, const std::string& ownerKind, Expectations* expectations) {
  informers_.push_back(&informer);
  informer.addHandler(kube::EventHandler{[this, ownerKind, expectations](const Json& o) {
                                           auto owner = controllerOwnerKey(o, ownerKind);
                                           if (owner.empty()) return;
                                           if (expectations) expectations->creationObserved(owner);
                                           queue_.add(owner);
                                         },
                                         [this, ownerKind, expectations](const Json& previous, const Json& current) {
                                           // An owner change (adoption/orphaning) concerns both owners;
                                           // for the new owner an adoption counts as the creation it expected.
                                           auto before = controllerOwnerKey(previous, ownerKind);
                                           auto after = controllerOwnerKey(current, ownerKind);
                                           if (!before.empty()) queue_.add(before);
                                           if (!after.empty() && after != before) {
                                             if (expectations) expectations->creationObserved(after);
                                             queue_.add(after);
                                           }
                                         },
                                         [this, ownerKind, expectations](const Json& o) {
                                           auto owner = controllerOwnerKey(o, ownerKind);
                                           if (owner.empty()) return;
                                           if (expectations) expectations->deletionObserved(owner);
                                           queue_.add(owner);
                                         }});
}

void Controller::watchMapped(kube::Informer& informer, KeyMapper map, UpdatePredicate predicate) {
  informers_.push_back(&informer);
  auto enqueue = [this, map = std::move(map)](const Json& o) {
    for (const std::string& key : map(o)) queue_.add(key);
  };
  resyncs_.push_back([&informer, enqueue] {
    for (const kube::ObjectPtr& o : informer.cache().list()) enqueue(*o);
  });
  informer.addHandler(
      kube::EventHandler{enqueue,
                         [enqueue, predicate = std::move(predicate)](const Json& previous, const Json& current) {
                           if (predicate && !predicate(previous, current)) return;
                           // Both: a changed reference concerns the old target too.
                           enqueue(previous);
                           enqueue(current);
                         },
                         enqueue});
}

void Controller::run(std::stop_token stop) {
  for (auto* informer : informers_) {
    if (!informer->waitForSync(stop)) return;
  }
  SLUICE_LOG_INFO("controller {}: caches synced, starting {} workers", options_.name, options_.workers);
  {
    // Declared before the workers so it outlives them: the workers' destructors
    // join, and they return only once a stop has shut the queue down.
    std::stop_callback onStop(stop, [this] { queue_.shutDown(); });
    std::vector<std::jthread> workers;
    workers.reserve(options_.workers);
    for (int i = 0; i < options_.workers; ++i) workers.emplace_back([this] { worker(); });
  }
  SLUICE_LOG_INFO("controller {}: stopped", options_.name);
}

const char* reconcileResultLabel(const ReconcileResult& result) {
  if (!result.status.isOk()) return result.terminal ? kReconcileTerminalError : kReconcileError;
  if (result.requeueAfterDelay > Clock::Duration::zero()) return kReconcileRequeueAfter;
  if (result.requeueNow) return kReconcileRequeue;
  return kReconcileSuccess;
}

void Controller::resync() {
  for (const auto& resync : resyncs_) resync();
}

void Controller::worker() {
  while (auto key = queue_.get()) {
    if (options_.owns && !options_.owns(*key)) {
      queue_.forget(*key);
      queue_.done(*key);
      continue;
    }
    const Clock::TimePoint started = clock_.now();
    ReconcileResult result = reconciler_.reconcile(*key);
    if (options_.metrics) {
      const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
      options_.metrics->reconciled(options_.name, reconcileResultLabel(result), seconds);
    }
    if (!result.status.isOk()) {
      if (result.terminal) {
        SLUICE_LOG_ERROR("controller {}: {}: {} (not retried)", options_.name, *key, result.status.toString());
        queue_.forget(*key);
      } else {
        SLUICE_LOG_WARN("controller {}: {}: {} (retry {})", options_.name, *key, result.status.toString(),
                        queue_.numRequeues(*key) + 1);
        queue_.addRateLimited(*key);
      }
    } else if (result.requeueAfterDelay > Clock::Duration::zero()) {
      queue_.forget(*key);
      queue_.addAfter(*key, result.requeueAfterDelay);
    } else if (result.requeueNow) {
      queue_.addRateLimited(*key);
    } else {
      queue_.forget(*key);
    }
    queue_.done(*key);
  }
}

}  // namespace sluice::reconcile
