// LocalStore: the in-memory stand-in for the apiserver that `sluice-operator
// --local` keeps its Functions, Triggers and Secrets in. It implements the part of
// ResourceClient the autoscaler and the EventRecorder use (get, list, merge
// patches of status, Event creation) over ObjectCaches, so the very same
// AutoscaleReconciler runs locally and on Kubernetes. Objects are put by the
// manifest loader; uid, generation and resourceVersion behave as on the
// apiserver (generation moves when spec changes), so the autoscaler's change
// detection works unchanged. Events are handed to an observer (the console)
// instead of being stored. Watches are not offered: nothing local watches.
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"

namespace sluice::local {

class LocalStore final : public kube::ResourceClient {
 public:
  using EventObserver = std::function<void(const kube::Json& event)>;

  // `clock` stamps metadata.creationTimestamp (a cron Trigger never fires for
  // a minute that began before it existed).
  explicit LocalStore(EventObserver onEvent = nullptr, const Clock& clock = realClock());

  // Inserts or replaces a Function or Trigger by namespace/name, keeping its
  // status and uid; generation moves only when spec changed.
  void put(const kube::Json& object);
  void erase(const std::string& kind, const std::string& key);

  const kube::ObjectCache& functions() const { return functions_; }
  const kube::ObjectCache& triggers() const { return triggers_; }
  const kube::ObjectCache& secrets() const { return secrets_; }

  Result<kube::Json> get(const kube::ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<kube::Json> list(const kube::ResourceType& type, const std::string& ns,
                          const kube::ListOptions& options) override;
  Result<kube::Json> create(const kube::ResourceType& type, const std::string& ns, const kube::Json& object) override;
  Result<kube::Json> update(const kube::ResourceType& type, const kube::Json& object) override;
  Result<kube::Json> updateStatus(const kube::ResourceType& type, const kube::Json& object) override;
  Status remove(const kube::ResourceType& type, const std::string& ns, const std::string& name,
                const kube::DeleteOptions& options = {}) override;
  Result<kube::Json> patch(const kube::ResourceType& type, const std::string& ns, const std::string& name,
                           kube::PatchType patchType, const kube::Json& patch,
                           const kube::PatchOptions& options = {}) override;
  Status watch(const kube::ResourceType& type, const std::string& ns, const kube::WatchOptions& options,
               const std::function<void(kube::WatchEvent&&)>& onEvent, std::stop_token stop) override;

 private:
  kube::ObjectCache* cacheFor(const kube::ResourceType& type);
  kube::ObjectCache* cacheFor(const std::string& kind);

  EventObserver onEvent_;
  const Clock& clock_;
  std::mutex mu_;  // serializes read-modify-write of objects
  kube::ObjectCache functions_;
  kube::ObjectCache triggers_;
  kube::ObjectCache secrets_;      // v1 Secrets from DIR (data base64, as the apiserver keeps them)
  long long resourceVersion_ = 0;  // guarded by mu_
  long long uidSequence_ = 0;      // guarded by mu_
};

}  // namespace sluice::local
