// StateCollector: series computed from the operator's informer caches at
// scrape time (as kube-state-metrics does), so they are never stale:
//   sluice_function_desired_replicas{function}       gauge (the replicas the FunctionController aims for)
//   sluice_function_ready_replicas{function}         gauge (status.readyReplicas)
//   sluice_function_max_replicas{function}           gauge (spec.scaling.maxReplicas)
//   sluice_warmpool_pods{namespace,pool,ready}       gauge (generic warm pods, by readiness)
//   sluice_operator_is_leader                        gauge (1 while this replica leads)
// A pool's series are steady: both readiness values are always reported, and a
// pool keeps reading 0 for kPoolMemory after its last pod went (adopted, before
// the refill), so a dashboard or alert sees an empty pool as 0, not as no data.
// `function` is "namespace/name", as in the autoscaler's series. Every replica
// reports the same caches (standbys keep them warm); aggregate with max().
// Collect() runs on the exposer's threads; the caches are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "common/clock.h"
#include "kube/object_cache.h"

namespace sluice::metrics {

class StateCollector : public prometheus::Collectable {
 public:
  static constexpr std::chrono::minutes kPoolMemory{10};

  StateCollector(const kube::ObjectCache& functions, const kube::ObjectCache& pods, std::function<bool()> isLeader,
                 const Clock& clock = realClock());

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const kube::ObjectCache& functions_;
  const kube::ObjectCache& pods_;
  std::function<bool()> isLeader_;
  const Clock& clock_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<std::string, std::string>, Clock::TimePoint> poolsSeen_;  // (namespace, pool) -> last
};

}  // namespace sluice::metrics
