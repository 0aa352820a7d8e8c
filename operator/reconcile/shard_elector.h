// ShardElector: holds some of the S bucket Leases of a sharded operator
// (reconcile/shards.h). Every replica campaigns for every bucket, each with
// the Lease rules of LeaderElector (renew every retryPeriod, give a bucket up
// when it could not be renewed for renewDeadline, take one whose holder did
// not renew it within leaseDuration), so the buckets of a replica that dies
// are taken over within leaseDuration (+ deference, below) + 2 retryPeriods
// (the last renewal is seen up to a retry late, and one more finds it free).
//
// Spread: a replica takes a free bucket at once only while it holds fewer
// than its fair share, ceil(S / replicas) with `replicas` the expected
// replica count (the chart's); at or over its share it defers: it takes a
// free bucket only after the bucket has been free for `deference` (two retry
// periods) more, so a replica under its share, which tries every retry
// period, gets it first. With every replica at its share (one died), the
// survivors take its buckets after the deference. Replicas that start more
// than the deference apart (or a replica replacing a dead one) would find
// every bucket taken: a replica under its share that finds none free asks a
// replica over its share for one, by annotating one of its Leases
// (kLeaseWantedByAnnotation); the holder, still over its share at its next
// renewal, releases that bucket, and the asker, under its share, takes it at
// its next retry (the others, at their share, defer). So replicas converge on
// their shares; every bucket has exactly one holder at a time throughout.
//
// A bucket is given up at once (callback, then no more work for it) when its
// Lease shows another holder, or after renewDeadline without renewal; on
// run()'s return every held Lease is released (empty holder) so the others
// take them at their next retry.
//
// Thread-safety: run() on one thread; holds()/ownsKey()/held() from any; the
// callback runs on run()'s thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "kube/resource_client.h"
#include "reconcile/leader_election.h"

namespace sluice::reconcile {

struct ShardingConfig {
  int shards = 1;
  int replicas = 1;  // expected replicas: the fair share is ceil(shards / replicas)
  std::string ns;
  std::string leasePrefix = "sluice-operator";  // Leases "<prefix>-shard-<i>-of-<shards>"
  std::string identity;
  Clock::Duration leaseDuration = std::chrono::seconds(15);
  Clock::Duration renewDeadline = std::chrono::seconds(10);
  Clock::Duration retryPeriod = std::chrono::seconds(2);
};

class ShardElector {
 public:
  // Called on run()'s thread when this replica gains (held) or loses a bucket.
  using BucketChange = std::function<void(int bucket, bool held)>;

  ShardElector(kube::ResourceClient& client, ShardingConfig config, Clock& clock);

  void onChange(BucketChange change) { change_ = std::move(change); }

  // Campaigns and renews until `stop`, then releases the Leases it holds.
  void run(std::stop_token stop);

  bool holds(int bucket) const { return bucket >= 0 && bucket < config_.shards && held_[bucket].load(); }
  bool ownsKey(std::string_view key) const;
  int held() const { return heldCount_.load(); }
  int share() const;
  const ShardingConfig& config() const { return config_; }

 private:
  // One pass: renew the held buckets first (a slow acquire must not delay them), then try the free.
  void round();
  void renew(int bucket);
  void tryTake(int bucket);
  void set(int bucket, bool held);
  // Under our share with no free bucket: ask a replica over its share for one of its buckets.
  void askForBucket();
  // Over our share and asked for `bucket` by another: give it up.
  bool giveUpIfAsked(int bucket);

  kube::ResourceClient& client_;
  const ShardingConfig config_;
  Clock& clock_;
  BucketChange change_;
  std::vector<std::unique_ptr<LeaderElector>> electors_;
  std::vector<Clock::TimePoint> lastRenew_;
  std::unique_ptr<std::atomic<bool>[]> held_;
  std::atomic<int> heldCount_{0};
  int firstBucket_ = 0;  // where this replica starts its pass, so replicas do not all race for bucket 0
};

}  // namespace sluice::reconcile
