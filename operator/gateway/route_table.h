// RouteTable: keeps the Dispatcher in step with the cluster. From the
// informer caches of Functions, Triggers and replica Pods it makes routable
// every Function that has an http Trigger, with its Ready, not terminating
// replicas (their pod IP and the runtime's invoke port) and its
// spec.concurrency; a Function losing its last http Trigger (or deleted) stops
// being routable. Also says which Trigger a Function's calls are named after.
// Thread-safe: informer handlers (several informers' threads) and request
// threads may call in at once; refreshes of the Dispatcher are serialised.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "gateway/dispatcher.h"
#include "kube/informer.h"

namespace sluice::gateway {

class RouteTable {
 public:
  // `port`: where replicas take invocations.
  RouteTable(Dispatcher& dispatcher, kube::Informer& functions, kube::Informer& triggers, kube::Informer& pods,
             int port);

  // The name of the http Trigger of Function `key` (namespace/name), or none when it is not routable.
  std::optional<std::string> triggerOf(const std::string& key) const;

  // Recomputes one Function from the caches (called by the informer handlers).
  void refresh(const std::string& ns, const std::string& function);

 private:
  Dispatcher& dispatcher_;
  kube::Informer& functions_;
  kube::Informer& triggers_;
  kube::Informer& pods_;
  const int port_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> triggerOf_;  // guarded by mu_
};

}  // namespace sluice::gateway
