// FakeKafkaGroup: topics of an in-memory Kafka cluster, one consumer group
// with its committed offsets, and the member (a KafkaConsumer) a KafkaSource
// opens to it (consumer()).
//
// Like Kafka: a partition's records have offsets from 0; an assigned
// partition is read from the group's committed offset (from its first record
// when there is none, as auto.offset.reset=earliest) or from the offset the
// assignment names; paused partitions yield nothing. The test decides the
// group's rebalances: rebalanceInsidePoll() queues an assignment or a revoke
// that the member's next consume() call serves after handing over
// `afterRecords` records of that call, as librdkafka serves a rebalance in the
// middle of a batch. A revoked partition is given up once the listener
// returns; an assignment is taken only when the listener calls assign().
// Asynchronous commits are reported (onCommitted) from the next consume();
// failCommits(n) makes the next n commits fail. hold() stops handing out
// records and serving rebalances, so a test can set up a poll atomically.
// Thread-safe: the source's thread uses the member while the test drives the
// group; listener calls are made without the lock held.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/sources/kafka_consumer.h"

namespace sluice::testing {

class FakeKafkaGroup {
 public:
  using Partition = std::pair<std::string, int32_t>;

  void produce(const std::string& topic, int32_t partition, const std::string& value,
               std::optional<std::string> key = std::nullopt, std::optional<int64_t> timestampMs = std::nullopt) {
    std::lock_guard lock(mu_);
    logs_[{topic, partition}].push_back({std::move(key), value, timestampMs});
    changed_.notify_all();
  }

  struct Rebalance {
    bool assign = true;  // false: revoke
    std::vector<Partition> partitions;
    bool lost = false;
    size_t afterRecords = 0;
  };
  void rebalanceInsidePoll(Rebalance rebalance) {
    std::lock_guard lock(mu_);
    rebalances_.push_back(std::move(rebalance));
    changed_.notify_all();
  }
  void assignInsidePoll(std::vector<Partition> partitions, size_t afterRecords = 0) {
    rebalanceInsidePoll({true, std::move(partitions), false, afterRecords});
  }
  void revokeInsidePoll(std::vector<Partition> partitions, bool lost = false, size_t afterRecords = 0) {
    rebalanceInsidePoll({false, std::move(partitions), lost, afterRecords});
  }

  void hold(bool held) {
    std::lock_guard lock(mu_);
    held_ = held;
    changed_.notify_all();
  }
  // false: the cluster is gone (clusterReachable() says so); commits are then never confirmed.
  void setReachable(bool reachable) {
    std::lock_guard lock(mu_);
    reachable_ = reachable;
  }
  // Synchronous commits made while unreachable (each would have hung a real client).
  int blockingCommits() const {
    std::lock_guard lock(mu_);
    return blockingCommits_;
  }
  int reachabilityProbes() const {
    std::lock_guard lock(mu_);
    return reachabilityProbes_;
  }
  std::vector<std::chrono::milliseconds> closeBudgets() const {
    std::lock_guard lock(mu_);
    return closeBudgets_;
  }
  void failCommits(int count) {
    std::lock_guard lock(mu_);
    failCommits_ = count;
  }

  // Waits (up to 10 s) until `condition` holds on the group's state; false when it never did.
  bool waitFor(const std::function<bool(const FakeKafkaGroup&)>& condition) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return condition(*this); });
  }

  std::string committedMetadata(const std::string& topic, int32_t partition) const {
    std::lock_guard lock(mu_);
    auto it = metadata_.find({topic, partition});
    return it == metadata_.end() ? "" : it->second;
  }
  // As if an earlier member had committed `offset` with `metadata`.
  void setCommitted(const std::string& topic, int32_t partition, int64_t offset, const std::string& metadata) {
    std::lock_guard lock(mu_);
    committed_[{topic, partition}] = offset;
    metadata_[{topic, partition}] = metadata;
  }
  int64_t committedOffset(const std::string& topic, int32_t partition) const {
    std::lock_guard lock(mu_);
    return committed(topic, partition);
  }

  // Read these inside waitFor() or after the source stopped.
  int64_t committed(const std::string& topic, int32_t partition) const {
    auto it = committed_.find({topic, partition});
    return it == committed_.end() ? runtime::kKafkaNoOffset : it->second;
  }
  bool assigned(const std::string& topic, int32_t partition) const { return positions_.contains({topic, partition}); }
  bool paused(const std::string& topic, int32_t partition) const { return paused_.contains({topic, partition}); }
  bool rebalancesServed() const { return rebalances_.empty(); }
  // A poll is under way (it may go on reading after serving a rebalance: hold() stops only the next one).
  bool polling() const { return inPoll_; }
  int commitsSent() const { return commitsSent_; }
  int assignsInsidePoll() const { return assignsInsidePoll_; }
  bool closed() const { return closed_; }
  size_t commitResultsPending() const { return commitResults_.size(); }

  std::unique_ptr<runtime::KafkaConsumer> consumer();

 private:
  class Member;
  friend class Member;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  struct Stored {
    std::optional<std::string> key;
    std::string value;
    std::optional<int64_t> timestampMs;
  };
  std::map<Partition, std::vector<Stored>> logs_;
  std::map<Partition, int64_t> committed_;
  std::map<Partition, std::string> metadata_;  // each committed offset's metadata string
  std::map<Partition, int64_t> positions_;     // the assignment: next offset to hand over
  std::set<Partition> paused_;
  std::deque<Rebalance> rebalances_;
  std::vector<std::vector<runtime::KafkaPartition>> commitResults_;  // async results not yet reported
  bool held_ = false;
  bool inPoll_ = false;
  bool closed_ = false;
  bool reachable_ = true;
  int reachabilityProbes_ = 0;
  int blockingCommits_ = 0;
  std::vector<std::chrono::milliseconds> closeBudgets_;
  int failCommits_ = 0;
  int commitsSent_ = 0;
  int assignsInsidePoll_ = 0;
};

class FakeKafkaGroup::Member final : public runtime::KafkaConsumer {
 public:
  explicit Member(FakeKafkaGroup& group) : group_(group) {}

  Status open(const std::map<std::string, std::string>&, const std::vector<std::string>&,
              runtime::KafkaConsumerListener& listener) override {
    listener_ = &listener;
    return Status::ok();
  }

  size_t consume(std::vector<runtime::KafkaRecord>& records, size_t max, std::chrono::milliseconds timeout) override {
    reportCommits();
    std::unique_lock lock(group_.mu_);
    group_.changed_.wait_for(lock, timeout,
                             [&] { return !group_.held_ && (readable() || !group_.rebalances_.empty()); });
    if (group_.held_) return 0;
    group_.inPoll_ = true;
    size_t taken = 0;
    for (;;) {
      if (serveRebalance(lock, taken)) continue;
      if (taken >= max) break;
      auto next = nextReadable();
      if (!next) break;
      auto& [partition, position] = **next;
      runtime::KafkaRecord record;
      record.topic = partition.first;
      record.partition = partition.second;
      record.offset = position;
      const Stored& stored = group_.logs_[partition][static_cast<size_t>(position)];
      record.key = stored.key;
      record.value = stored.value;
      record.timestampMs = stored.timestampMs;
      records.push_back(std::move(record));
      ++position;
      ++taken;
    }
    while (serveRebalance(lock, SIZE_MAX)) {
    }
    group_.inPoll_ = false;
    group_.changed_.notify_all();
    return taken;
  }

  Status assign(const std::vector<runtime::KafkaPartition>& partitions, bool) override {
    std::lock_guard lock(group_.mu_);
    for (const auto& p : partitions) {
      Partition key{p.topic, p.partition};
      auto committed = group_.committed_.find(key);
      group_.positions_[key] =
          p.offset >= 0 ? p.offset : (committed != group_.committed_.end() ? committed->second : 0);
    }
    if (group_.inPoll_) ++group_.assignsInsidePoll_;
    group_.changed_.notify_all();
    return Status::ok();
  }
  std::vector<runtime::KafkaPartition> assignment() override {
    std::lock_guard lock(group_.mu_);
    std::vector<runtime::KafkaPartition> out;
    for (const auto& [key, position] : group_.positions_)
      out.push_back({key.first, key.second, runtime::kKafkaNoOffset, "", ""});
    return out;
  }
  bool assignmentLost() override { return false; }
  void pause(const std::vector<runtime::KafkaPartition>& partitions) override {
    std::lock_guard lock(group_.mu_);
    for (const auto& p : partitions) group_.paused_.insert({p.topic, p.partition});
    group_.changed_.notify_all();
  }
  void resume(const std::vector<runtime::KafkaPartition>& partitions) override {
    std::lock_guard lock(group_.mu_);
    for (const auto& p : partitions) group_.paused_.erase({p.topic, p.partition});
    group_.changed_.notify_all();
  }

  Status commitAsync(const std::vector<runtime::KafkaPartition>& offsets) override {
    std::lock_guard lock(group_.mu_);
    if (!group_.reachable_) return Status::ok();  // deferred by the client, never confirmed
    group_.commitResults_.push_back(apply(offsets));
    return Status::ok();
  }
  Status commitSync(std::vector<runtime::KafkaPartition>& offsets) override {
    {
      std::lock_guard lock(group_.mu_);
      // librdkafka's would wait for the coordinator without a bound.
      if (!group_.reachable_) {
        ++group_.blockingCommits_;
        return unavailable("the cluster is unreachable");
      }
      offsets = apply(offsets);
    }
    listener_->onCommitted(offsets);
    return Status::ok();
  }
  Status committed(std::vector<runtime::KafkaPartition>& partitions, std::chrono::milliseconds) override {
    std::lock_guard lock(group_.mu_);
    for (auto& p : partitions) {
      p.offset = group_.committed(p.topic, p.partition);
      auto metadata = group_.metadata_.find({p.topic, p.partition});
      p.metadata = metadata == group_.metadata_.end() ? "" : metadata->second;
    }
    return Status::ok();
  }
  std::optional<runtime::KafkaWatermarks> watermarks(const std::string& topic, int32_t partition, bool,
                                                     std::chrono::milliseconds) override {
    std::lock_guard lock(group_.mu_);
    auto it = group_.logs_.find({topic, partition});
    return runtime::KafkaWatermarks{0, it == group_.logs_.end() ? 0 : static_cast<int64_t>(it->second.size())};
  }

  bool clusterReachable(std::chrono::milliseconds) override {
    std::lock_guard lock(group_.mu_);
    ++group_.reachabilityProbes_;
    return group_.reachable_;
  }

  void close(std::chrono::milliseconds budget) override {
    {
      std::lock_guard lock(group_.mu_);
      group_.closeBudgets_.push_back(budget);
    }
    reportCommits();
    std::vector<runtime::KafkaPartition> all = assignment();
    if (!all.empty()) listener_->onRevoke(all, false);
    std::lock_guard lock(group_.mu_);
    group_.positions_.clear();
    group_.closed_ = true;
    group_.changed_.notify_all();
  }

 private:
  // Under the lock: the assigned, unpaused partitions with a record at their position.
  std::optional<std::map<Partition, int64_t>::iterator> nextReadable() {
    for (auto it = group_.positions_.begin(); it != group_.positions_.end(); ++it) {
      if (group_.paused_.contains(it->first)) continue;
      auto log = group_.logs_.find(it->first);
      if (log != group_.logs_.end() && it->second < static_cast<int64_t>(log->second.size())) return it;
    }
    return std::nullopt;
  }
  bool readable() { return nextReadable().has_value(); }

  // Serves the first queued rebalance when `taken` records have been handed
  // over (unlocking around the listener); true when it served one.
  bool serveRebalance(std::unique_lock<std::mutex>& lock, size_t taken) {
    if (group_.rebalances_.empty() || group_.rebalances_.front().afterRecords > taken) return false;
    Rebalance rebalance = std::move(group_.rebalances_.front());
    group_.rebalances_.pop_front();
    std::vector<runtime::KafkaPartition> partitions;
    for (const auto& [topic, partition] : rebalance.partitions)
      partitions.push_back({topic, partition, runtime::kKafkaNoOffset, "", ""});
    lock.unlock();
    if (rebalance.assign) {
      listener_->onAssign(partitions, true);
    } else {
      listener_->onRevoke(partitions, rebalance.lost);
    }
    lock.lock();
    if (!rebalance.assign) {
      for (const auto& key : rebalance.partitions) {
        group_.positions_.erase(key);
        group_.paused_.erase(key);
      }
    }
    group_.changed_.notify_all();
    return true;
  }

  // Under the lock: commits `offsets` (unless failing) and returns them with their results.
  std::vector<runtime::KafkaPartition> apply(std::vector<runtime::KafkaPartition> offsets) {
    ++group_.commitsSent_;
    const bool fail = group_.failCommits_ > 0;
    if (fail) --group_.failCommits_;
    for (auto& offset : offsets) {
      if (fail) {
        offset.error = "Broker: Specified group generation id is not valid";
      } else {
        group_.committed_[{offset.topic, offset.partition}] = offset.offset;
        group_.metadata_[{offset.topic, offset.partition}] = offset.metadata;
      }
    }
    group_.changed_.notify_all();
    return offsets;
  }

  void reportCommits() {
    std::vector<std::vector<runtime::KafkaPartition>> results;
    {
      std::lock_guard lock(group_.mu_);
      results.swap(group_.commitResults_);
    }
    for (const auto& offsets : results) listener_->onCommitted(offsets);
  }

  FakeKafkaGroup& group_;
  runtime::KafkaConsumerListener* listener_ = nullptr;
};

inline std::unique_ptr<runtime::KafkaConsumer> FakeKafkaGroup::consumer() { return std::make_unique<Member>(*this); }

}  // namespace sluice::testing
