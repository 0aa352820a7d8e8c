// WarmPoolDemand: the starts every warm pool of the operator served or missed,
// and the size each should have (autoscaler::WarmPoolSizer, one per
// "<namespace>/<pool>"; issue 19). KubePlatform reports each apply's new
// replicas (adopted and created) through record(); the WarmPoolController asks
// size() when it plans a pool. Exposes per pool on the registry:
//   sluice_warm_pool_size                the size last planned
//   sluice_warm_pool_starts_per_minute   the starts rate over the sizing window
//   sluice_warm_pool_starts_total        starts by served="warm"|"cold"
// Thread-safe: record() runs on the FunctionController's workers, size() on the pool's.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "autoscaler/warm_pool_sizer.h"
#include "common/clock.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
class Counter;
}  // namespace prometheus

namespace sluice::controllers {

class WarmPoolDemand {
 public:
  // `registry` may be null (no series).
  WarmPoolDemand(autoscaler::WarmPoolSizing sizing, std::shared_ptr<prometheus::Registry> registry, Clock& clock);

  const autoscaler::WarmPoolSizing& sizing() const { return sizing_; }
  // Whether pools are sized by demand at all (a floor or a ceiling set).
  bool sized() const { return sizing_.floor > 0 || sizing_.ceiling > 0; }

  // Called (outside any lock) with the namespace of each record(): the pool controller's queue.
  void onRecord(std::function<void(const std::string& ns)> notify);
  // `starts` new replicas of a Function of pool `pool` in `ns`, `warm` of them adopted.
  void record(const std::string& ns, const std::string& pool, int starts, int warm);
  // The size of the pool now, at least `functionFloor`; sets its series.
  int size(const std::string& ns, const std::string& pool, int functionFloor);
  // Whether some pool of `ns` has starts in its window (its size may still fall).
  bool decaying(const std::string& ns);
  // A pool no Function asks for any more: its series go.
  void forget(const std::string& ns, const std::string& pool);

 private:
  void publish(const std::string& ns, const std::string& pool, autoscaler::WarmPoolSizer& sizer, int size);

  const autoscaler::WarmPoolSizing sizing_;
  std::shared_ptr<prometheus::Registry> registry_;
  Clock& clock_;
  prometheus::Family<prometheus::Gauge>* sizeFamily_ = nullptr;
  prometheus::Family<prometheus::Gauge>* rateFamily_ = nullptr;
  prometheus::Family<prometheus::Counter>* startsFamily_ = nullptr;

  std::mutex mu_;
  std::map<std::string, autoscaler::WarmPoolSizer> sizers_;  // by "<namespace>/<pool>"; guarded by mu_
  std::function<void(const std::string&)> notify_;           // guarded by mu_
};

}  // namespace sluice::controllers
