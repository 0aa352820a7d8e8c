#include "reconcile/shard_elector.h"

#include <algorithm>
#include <map>

#include "common/logging.h"
#include "reconcile/shards.h"

namespace sluice::reconcile {

ShardElector::ShardElector(kube::ResourceClient& client, ShardingConfig config, Clock& clock)
    : client_(client),
      config_(std::move(config)),
      clock_(clock),
      lastRenew_(static_cast<size_t>(config_.shards)),
      held_(std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(config_.shards))) {
  for (int bucket = 0; bucket < config_.shards; ++bucket) {
    LeaderElectionConfig lease{config_.ns,
                               shardLeaseName(config_.leasePrefix, bucket, config_.shards),
                               config_.identity,
                               config_.leaseDuration,
                               config_.renewDeadline,
                               config_.retryPeriod};
    electors_.push_back(std::make_unique<LeaderElector>(client, lease, clock_));
    held_[bucket] = false;
  }
  firstBucket_ = shardBucket(config_.identity, config_.shards);
}

bool ShardElector::ownsKey(std::string_view key) const { return holds(shardBucket(key, config_.shards)); }

int ShardElector::share() const {
  const int replicas = std::max(1, config_.replicas);
  return (config_.shards + replicas - 1) / replicas;
}

void ShardElector::set(int bucket, bool held) {
  held_[bucket] = held;
  heldCount_ += held ? 1 : -1;
  SLUICE_LOG_INFO("sharding: {} {} bucket {} of {} (holds {})", config_.identity, held ? "took" : "gave up", bucket,
                  config_.shards, heldCount_.load());
  if (change_) change_(bucket, held);
}

bool ShardElector::giveUpIfAsked(int bucket) {
  LeaderElector& elector = *electors_[bucket];
  const std::string asker = elector.wantedBy();
  if (asker.empty() || asker == config_.identity || held() <= share()) return false;
  SLUICE_LOG_INFO("sharding: {} over its share ({} of {}): giving bucket {} to {}", config_.identity, held(), share(),
                  bucket, asker);
  set(bucket, false);
  elector.release();
  return true;
}

void ShardElector::askForBucket() {
  std::map<std::string, std::vector<int>> holders;
  for (int bucket = 0; bucket < config_.shards; ++bucket) {
    if (!holds(bucket)) holders[electors_[bucket]->observedHolder()].push_back(bucket);
  }
  for (const auto& [holder, buckets] : holders) {
    if (holder.empty() || static_cast<int>(buckets.size()) <= share()) continue;
    const std::string name = shardLeaseName(config_.leasePrefix, buckets.front(), config_.shards);
    auto lease = client_.get(kube::resources::kLeases, config_.ns, name);
    if (!lease) return;
    kube::Json asked = *lease;
    if (asked.value("/metadata/annotations"_json_pointer, kube::Json::object()).value(kLeaseWantedByAnnotation, "") ==
        config_.identity)
      return;  // asked already
    asked["metadata"]["annotations"][kLeaseWantedByAnnotation] = config_.identity;
    // resourceVersion-guarded: lost to the holder's renewal at worst, and asked again next round.
    if (client_.update(kube::resources::kLeases, asked)) {
      SLUICE_LOG_INFO("sharding: {} under its share asks {} for bucket {}", config_.identity, holder, buckets.front());
    }
    return;
  }
}

void ShardElector::renew(int bucket) {
  LeaderElector& elector = *electors_[bucket];
  if (elector.tryAcquireOrRenew()) {
    lastRenew_[bucket] = clock_.now();
    giveUpIfAsked(bucket);
    return;
  }
  const std::string& holder = elector.observedHolder();
  const bool taken = !holder.empty() && holder != config_.identity;
  if (taken || clock_.now() - lastRenew_[bucket] >= config_.renewDeadline) set(bucket, false);
}

void ShardElector::tryTake(int bucket) {
  const Clock::Duration deference = held() < share() ? Clock::Duration::zero() : 2 * config_.retryPeriod;
  if (!electors_[bucket]->tryAcquireOrRenew(deference)) return;
  lastRenew_[bucket] = clock_.now();
  set(bucket, true);
}

void ShardElector::round() {
  for (int bucket = 0; bucket < config_.shards; ++bucket) {
    if (holds(bucket)) renew(bucket);
  }
  const int before = held();
  for (int i = 0; i < config_.shards; ++i) {
    const int bucket = (firstBucket_ + i) % config_.shards;
    if (!holds(bucket)) tryTake(bucket);
  }
  if (held() < share() && held() == before) askForBucket();
}

void ShardElector::run(std::stop_token stop) {
  SLUICE_LOG_INFO("sharding: {} campaigning for {} buckets (Leases {}/{}-shard-*-of-{}, share {})", config_.identity,
                  config_.shards, config_.ns, config_.leasePrefix, config_.shards, share());
  // A round every retryPeriod from the start of the last one, not after it: under a loaded apiserver
  // a round takes a while, and a slower cadence would see a dead holder's last renewal later.
  Clock::TimePoint started;
  do {
    started = clock_.now();
    round();
  } while (clock_.sleepUntil(started + config_.retryPeriod, stop));
  for (int bucket = 0; bucket < config_.shards; ++bucket) {
    if (!holds(bucket)) continue;
    set(bucket, false);
    electors_[bucket]->release();
  }
}

}  // namespace sluice::reconcile
