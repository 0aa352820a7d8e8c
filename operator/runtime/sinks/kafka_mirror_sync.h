// KafkaMirrorSync: the periodic half of a Kafka mirror that keeps or renames
// topics (issue 17), run on one thread of its own beside the mirror's Kafka
// output: every second it checks what is due of
//  - consumer-group offset translation (GroupOffsetSync over the output's
//    OffsetSyncStore, every groupSyncInterval, when groups are configured);
//  - topic config sync (KafkaTopicSync::syncConfigs, every configSyncInterval);
//  - replication lag, every 5 s: per source partition the mirror copies, the
//    records on A not yet copied (A's high watermark minus the next offset to
//    copy) and, while there are any, the seconds since the newest copied
//    record was written on A (0 when caught up). Reported through `onLag`.
// KafkaGroupOffsetsClient is GroupOffsetsClient on librdkafka's admin API.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/sinks/kafka_topic_sync.h"
#include "runtime/sinks/mirror_offsets.h"

namespace sluice::runtime {

class KafkaGroupOffsetsClient final : public GroupOffsetsClient {
 public:
  // `what` names the cluster in errors ("source cluster").
  static Result<std::unique_ptr<KafkaGroupOffsetsClient>> create(const std::map<std::string, std::string>& properties,
                                                                 const std::string& what);
  ~KafkaGroupOffsetsClient() override;
  KafkaGroupOffsetsClient(const KafkaGroupOffsetsClient&) = delete;
  KafkaGroupOffsetsClient& operator=(const KafkaGroupOffsetsClient&) = delete;

  Result<std::vector<std::string>> listGroups() override;
  Result<std::map<TopicPartition, int64_t>> committed(const std::string& group) override;
  Result<bool> active(const std::string& group) override;
  Status commit(const std::string& group, const std::map<TopicPartition, int64_t>& offsets) override;
  // A's high watermark of `partition` (for the lag); -1 when unknown.
  int64_t highWatermark(const TopicPartition& partition);
  // Requests under way or later give up at once (the mirror is stopping).
  void cancel() { cancelled_ = true; }

 private:
  explicit KafkaGroupOffsetsClient(rd_kafka_t* client) : client_(client) {}
  rd_kafka_t* client_;
  std::atomic<bool> cancelled_{false};
};

// Records and seconds behind for one source partition.
using MirrorLagReporter =
    std::function<void(const std::string& sourceTopic, int32_t partition, int64_t records, double seconds)>;

struct KafkaMirrorSyncOptions {
  std::map<std::string, std::string> sourceProperties;  // librdkafka properties of A
  std::map<std::string, std::string> targetProperties;  // of B
  GroupOffsetSyncOptions groups;                        // groups empty: no offset translation
  std::chrono::seconds configSyncInterval{60};          // 0: no config sync
  std::shared_ptr<KafkaTopicSync> topicSync;            // for the config sync; may be null
  std::shared_ptr<OffsetSyncStore> store;
  MirrorLagReporter onLag;  // may be empty
};

class KafkaMirrorSync {
 public:
  static Result<std::unique_ptr<KafkaMirrorSync>> create(KafkaMirrorSyncOptions options);
  ~KafkaMirrorSync();  // stops the thread
  KafkaMirrorSync(const KafkaMirrorSync&) = delete;
  KafkaMirrorSync& operator=(const KafkaMirrorSync&) = delete;

 private:
  explicit KafkaMirrorSync(KafkaMirrorSyncOptions options) : options_(std::move(options)) {}
  void loop(std::stop_token stop);
  void reportLag(std::stop_token stop);
  void syncConfigsIfDue(Clock::TimePoint now);

  KafkaMirrorSyncOptions options_;
  std::unique_ptr<KafkaGroupOffsetsClient> source_;
  std::unique_ptr<KafkaGroupOffsetsClient> target_;
  std::unique_ptr<GroupOffsetSync> groups_;
  std::optional<Clock::TimePoint> lastConfigSync_;
  std::optional<Clock::TimePoint> lastLag_;
  std::jthread thread_;
};

}  // namespace sluice::runtime
