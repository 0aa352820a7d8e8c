#include "controllers/warmpool/warm_pool_demand.h"

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace sluice::controllers {

namespace {

std::map<std::string, std::string> labelsOf(const std::string& ns, const std::string& pool) {
  return {{"namespace", ns}, {"pool", pool}};
}

}  // namespace

WarmPoolDemand::WarmPoolDemand(autoscaler::WarmPoolSizing sizing, std::shared_ptr<prometheus::Registry> registry,
                               Clock& clock)
    : sizing_(sizing), registry_(std::move(registry)), clock_(clock) {
  if (!registry_) return;
  sizeFamily_ = &prometheus::BuildGauge()
                     .Name("sluice_warm_pool_size")
                     .Help(
                         "Warm pods each pool is sized to: its starts rate times a pod start, bounded, or a "
                         "Function's spec.scaling.warmPool.size")
                     .Register(*registry_);
  rateFamily_ = &prometheus::BuildGauge()
                     .Name("sluice_warm_pool_starts_per_minute")
                     .Help("New replicas the pool's Functions needed per minute, over the sizing window")
                     .Register(*registry_);
  startsFamily_ = &prometheus::BuildCounter()
                       .Name("sluice_warm_pool_starts_total")
                       .Help("New replicas of the pool's Functions, by served=warm (adopted) or cold (created)")
                       .Register(*registry_);
}

void WarmPoolDemand::onRecord(std::function<void(const std::string&)> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
}

void WarmPoolDemand::record(const std::string& ns, const std::string& pool, int starts, int warm) {
  if (starts <= 0) return;
  std::function<void(const std::string&)> notify;
  {
    std::lock_guard lock(mu_);
    auto [it, _] = sizers_.try_emplace(ns + "/" + pool, sizing_);
    it->second.recordStarts(starts, warm, clock_.now());
    if (startsFamily_ != nullptr) {
      auto labels = labelsOf(ns, pool);
      labels["served"] = "warm";
      startsFamily_->Add(labels).Increment(std::clamp(warm, 0, starts));
      labels["served"] = "cold";
      startsFamily_->Add(labels).Increment(starts - std::clamp(warm, 0, starts));
    }
    // Fixed sizes do not move with starts: no reconcile of the namespace for them.
    if (sized()) notify = notify_;
  }
  if (notify) notify(ns);
}

int WarmPoolDemand::size(const std::string& ns, const std::string& pool, int functionFloor) {
  std::lock_guard lock(mu_);
  auto [it, _] = sizers_.try_emplace(ns + "/" + pool, sizing_);
  const int size = it->second.size(clock_.now(), functionFloor);
  publish(ns, pool, it->second, size);
  return size;
}

bool WarmPoolDemand::decaying(const std::string& ns) {
  if (!sized()) return false;
  std::lock_guard lock(mu_);
  for (auto it = sizers_.lower_bound(ns + "/"); it != sizers_.end() && it->first.starts_with(ns + "/"); ++it) {
    it->second.startsPerMinute(clock_.now());  // drops what left the window
    if (it->second.decaying()) return true;
  }
  return false;
}

void WarmPoolDemand::forget(const std::string& ns, const std::string& pool) {
  std::lock_guard lock(mu_);
  sizers_.erase(ns + "/" + pool);
  if (sizeFamily_ == nullptr) return;
  const auto labels = labelsOf(ns, pool);
  if (sizeFamily_->Has(labels)) sizeFamily_->Remove(&sizeFamily_->Add(labels));
  if (rateFamily_->Has(labels)) rateFamily_->Remove(&rateFamily_->Add(labels));
}

void WarmPoolDemand::publish(const std::string& ns, const std::string& pool, autoscaler::WarmPoolSizer& sizer,
                             int size) {
  if (sizeFamily_ == nullptr) return;
  const auto labels = labelsOf(ns, pool);
  sizeFamily_->Add(labels).Set(size);
  rateFamily_->Add(labels).Set(sizer.startsPerMinute(clock_.now()));
}

}  // namespace sluice::controllers
