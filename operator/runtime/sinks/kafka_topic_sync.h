// KafkaTopicSync: keeps a mirror's target topics on cluster B in step with
// their source topics on cluster A, so nobody creates them by hand. A target
// topic missing on B is created with the source's partition count and the
// topic configs set on A (DescribeConfigs entries set on the topic itself, not
// broker defaults); a target with fewer partitions than its source is grown
// (CreatePartitions). The KafkaSink asks before its first write to a topic and
// again when a record names a partition the target lacks (A grew), so this
// happens before the record is written, with no polling. syncConfigs(), run
// periodically by the mirror's sync loop, makes the configs set on each known
// target topic follow later changes on A (set, changed or removed there).
//
// Thread-safe: ensure() serializes its admin requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "common/status.h"

namespace sluice::runtime {

// What a sink asks before writing to a topic it has not seen.
class TopicSync {
 public:
  virtual ~TopicSync() = default;
  // Makes `targetTopic` exist with at least `partitions` partitions and as many
  // as its source has; returns its partition count.
  virtual Result<int32_t> ensure(const std::string& targetTopic, int32_t partitions) = 0;
};

struct KafkaTopicSyncOptions {
  std::map<std::string, std::string> sourceProperties;  // librdkafka properties of A (bootstrap.servers, security)
  std::map<std::string, std::string> targetProperties;  // the same for B
  std::string prefix;                                   // the mirror's rename prefix; empty for identity
};

class KafkaTopicSync final : public TopicSync {
 public:
  static Result<std::unique_ptr<KafkaTopicSync>> create(KafkaTopicSyncOptions options);
  ~KafkaTopicSync() override;
  KafkaTopicSync(const KafkaTopicSync&) = delete;
  KafkaTopicSync& operator=(const KafkaTopicSync&) = delete;

  Result<int32_t> ensure(const std::string& targetTopic, int32_t partitions) override;
  // For every target topic ensure() has seen: the configs set on B's topic
  // become those set on A's (IncrementalAlterConfigs). The first failure is
  // returned; the other topics are still synced, unless a cluster did not
  // answer at all (kDeadlineExceeded), which ends the pass.
  Status syncConfigs();
  // Admin requests under way or later give up at once (the mirror is stopping).
  void cancel() { cancelled_ = true; }

 private:
  KafkaTopicSync(KafkaTopicSyncOptions options, rd_kafka_t* source, rd_kafka_t* target)
      : options_(std::move(options)), source_(source), target_(target) {}
  // The topic's partition count on `client`'s cluster; 0 when it does not exist.
  Result<int32_t> partitionCount(rd_kafka_t* client, const std::string& topic);
  // The configs set on `topic` itself on `client`'s cluster (retention.ms, cleanup.policy, ...).
  Result<std::map<std::string, std::string>> topicConfigs(rd_kafka_t* client, const std::string& topic);
  Status syncConfigsOf(const std::string& targetTopic);
  Status alterTarget(const std::string& topic, const std::map<std::string, std::string>& set,
                     const std::vector<std::string>& removed);
  Status createTarget(const std::string& topic, int32_t partitions, const std::map<std::string, std::string>& configs);
  Status growTarget(const std::string& topic, int32_t partitions);

  KafkaTopicSyncOptions options_;
  rd_kafka_t* source_;
  rd_kafka_t* target_;
  std::mutex mu_;
  std::set<std::string> known_;  // guarded by mu_: target topics ensure() has seen
  std::atomic<bool> cancelled_{false};
};

}  // namespace sluice::runtime
