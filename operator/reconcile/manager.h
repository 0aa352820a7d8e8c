// Manager: owns the shared informers and the controllers of one operator
// process, like controller-runtime's Manager. Informers run on every replica
// (standbys keep warm caches); controllers run only while this process leads
// (when leader election is configured). Thread-safety: wire (informer(),
// add()) before run(); run() from one thread; isLeader() from any.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "kube/informer.h"
#include "kube/resource_client.h"
#include "reconcile/controller.h"
#include "reconcile/leader_election.h"
#include "reconcile/shard_elector.h"

namespace sluice::reconcile {

struct ManagerOptions {
  std::optional<LeaderElectionConfig> leaderElection;  // none: always lead
  // Called once when the controllers are told to stop (shutdown or lost
  // leadership), before they are joined: e.g. to end the apiserver client's
  // throttle and retry waits, which would otherwise hold a controller (and
  // the exit) for up to their maximum delay.
  std::function<void()> onStoppedLeading;
  // Sharded (shards > 1, reconcile/shard_elector.h): instead of the single
  // Lease, every replica runs the controllers at once, each reconciling only
  // the keys of the buckets it holds (Controller's `owns`); a gained bucket
  // has its keys handed to every controller again. Excludes leaderElection.
  std::optional<ShardingConfig> sharding;
  // Called with the number of buckets held after each change (metrics).
  std::function<void(int held)> onBucketsHeld;
};

class Manager {
 public:
  Manager(kube::ResourceClient& client, Clock& clock, ManagerOptions options);

  // The shared informer for a resource type in a namespace ("" = all; "a,b": those), created on first use.
  kube::Informer& informer(const kube::ResourceType& type, const std::string& ns = "",
                           kube::InformerOptions options = {});
  void add(std::unique_ptr<Controller> controller);

  // Runs until `stop`. Returns 0 after a graceful stop, 1 when leadership was lost
  // (the process should exit so a fresh replica campaigns with an empty state).
  int run(std::stop_token stop);

  // Unsharded: whether this process leads. Sharded: whether it holds bucket 0,
  // which does the whole operator's singleton work (the state metrics).
  bool isLeader() const;
  kube::ResourceClient& client() { return client_; }

  bool sharded() const { return shards_ != nullptr; }
  // Whether this process reconciles work keyed `key` ("namespace/name" or a namespace): always
  // when unsharded, else when it holds the key's bucket.
  bool owns(std::string_view key) const { return !shards_ || shards_->ownsKey(key); }
  const ShardElector* shards() const { return shards_.get(); }
  // A Controller's `owns` for work keyed by `shardKey(key)` (identity when null): none when unsharded.
  KeyFilter ownership(std::function<std::string(const std::string& key)> shardKey = nullptr) const;

 private:
  void runControllers(std::stop_token stop);
  // Sharded: the elector beside the controllers, which keep running while it renews.
  void runSharded(std::stop_token stop);

  kube::ResourceClient& client_;
  Clock& clock_;
  ManagerOptions options_;
  std::map<std::string, std::unique_ptr<kube::Informer>> informers_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<ShardElector> shards_;
  std::atomic<bool> leading_{false};
};

}  // namespace sluice::reconcile
