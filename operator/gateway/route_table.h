// RouteTable: keeps the Dispatcher in step with the Functions it can route.
// From caches of Functions and Triggers it makes routable every Function that
// has an http Trigger, with the replicas a ReplicasOf gives (on Kubernetes:
// its Ready, not terminating replica Pods at their pod IP and the runtime's
// invoke port; under `sluice-operator --local`: its ready child processes)
// and its spec.concurrency; a Function losing its last http Trigger (or
// deleted) stops being routable. Also says which Trigger a Function's calls
// are named after.
// Thread-safe: informer handlers (several informers' threads), the local
// runner's rounds and request threads may call in at once; refreshes of the
// Dispatcher are serialised.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/dispatcher.h"
#include "kube/informer.h"
#include "kube/object_cache.h"

namespace sluice::gateway {

class RouteTable {
 public:
  // A Function's replicas that may take calls now, in any order.
  using ReplicasOf = std::function<std::vector<Replica>(const std::string& ns, const std::string& function)>;

  // Kubernetes: follows the informers' events itself; replicas are the
  // Function's Ready replica Pods (from `pods`), invoked on `port`.
  RouteTable(Dispatcher& dispatcher, kube::Informer& functions, kube::Informer& triggers, kube::Informer& pods,
             int port);
  // Anything else: follows the Functions' and Triggers' events, so a Function
  // is routable before its status.url is written (the URL comes from the same
  // Trigger event, handled after this table's); the owner calls refreshAll()
  // when the replicas may have changed.
  RouteTable(Dispatcher& dispatcher, kube::Informer& functions, kube::Informer& triggers, ReplicasOf replicas);
  // Follows nothing: the owner calls refresh() or refreshAll() on every change.
  RouteTable(Dispatcher& dispatcher, const kube::ObjectCache& functions, const kube::ObjectCache& triggers,
             ReplicasOf replicas);

  // The name of the http Trigger of Function `key` (namespace/name), or none when it is not routable.
  std::optional<std::string> triggerOf(const std::string& key) const;

  // Recomputes one Function from the caches (called by the informer handlers).
  void refresh(const std::string& ns, const std::string& function);
  // Recomputes every Function in the caches and drops those gone from them.
  void refreshAll();

 private:
  void refreshLocked(const std::string& ns, const std::string& function);

  Dispatcher& dispatcher_;
  const kube::ObjectCache& functions_;
  const kube::ObjectCache& triggers_;
  ReplicasOf replicas_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> triggerOf_;  // guarded by mu_
};

}  // namespace sluice::gateway
