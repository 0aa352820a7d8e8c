// KafkaSink: writes Records to one Kafka topic with an idempotent producer
// (enable.idempotence=true, acks=all), so a record counts as written only
// when every in-sync replica has it, and retries inside librdkafka neither
// duplicate nor reorder records. The record's key and headers are kept, and
// its partition too when the Record names one (mirroring). A Record that
// names a topic (a mirror keeping source topic names) goes to that topic on
// the same cluster instead of the output's.
//
// Health: librdkafka retries a wrong password or a refused topic forever,
// failing each record only after message.timeout.ms (5 minutes). So the sink
// watches for such errors (kafkaErrorIsUnusable, or a fatal error) in the
// client's error events and in delivery reports, and then reports itself
// unhealthy, naming topic, bootstrap servers and cause. While unhealthy it
// probes the topic's metadata every few seconds; a probe that finds the topic
// usable, or any delivered record, makes it healthy again (the broker's ACLs
// or users were fixed). A fatal error (the idempotent producer gave up) is
// never cleared: the replica must be restarted.
//
// Thread-safe: write() from any thread; callbacks run on the sink's own
// delivery-report thread. writeBatch() costs one allocation per batch, not
// per record: every record's delivery report points into the batch's slots.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

#include "clients/kafka_client.h"
#include "runtime/sinks/kafka_mirror_sync.h"
#include "runtime/sinks/kafka_topic_sync.h"
#include "runtime/sinks/mirror_offsets.h"
#include "runtime/sinks/sink.h"

namespace sluice::runtime {

struct KafkaSinkOptions {
  std::string bootstrapServers;
  std::string topic;
  std::map<std::string, std::string> properties;  // extra librdkafka properties (security, linger.ms, ...)
  // Times the unhealthy probes and flush()'s deadline; outlives the sink.
  const Clock* clock = &realClock();
  // Set for a mirror that keeps or renames source topics: asked before the
  // first write to each record topic and when a record names a partition the
  // topic lacks, so target topics exist and have the source's partitions.
  std::shared_ptr<TopicSync> topicSync = nullptr;
  // Set for a mirror that keeps or renames source topics: each acknowledged
  // record read at a source offset (Record::sourceOffset) adds its offset-sync
  // pair, under the source topic (the record's topic without sourcePrefix).
  std::shared_ptr<OffsetSyncStore> offsetSyncs = nullptr;
  std::string sourcePrefix{};
  // The mirror's periodic group offset, config and lag sync; stopped before the producer.
  std::shared_ptr<KafkaMirrorSync> mirrorSync = nullptr;
};

class KafkaSink final : public Sink, private RdKafka::DeliveryReportCb {
 public:
  // Connects lazily; configuration errors name the property.
  static Result<std::unique_ptr<KafkaSink>> create(KafkaSinkOptions options);
  ~KafkaSink() override;

  void write(Record record, WriteCallback done) override;
  void writeBatch(const std::vector<Record>& records, const std::vector<uint32_t>& indexes,
                  std::shared_ptr<WriteListener> listener) override;
  Status flush(Clock::TimePoint deadline) override;
  Status health() const override;

 private:
  struct BatchWrite;
  explicit KafkaSink(KafkaSinkOptions options);
  void dr_cb(RdKafka::Message& message) override;
  // A mirror's record was acknowledged at `message`'s offset: its offset-sync pair.
  void addOffsetSync(const RdKafka::Message& message, int64_t sourceOffset,
                     std::chrono::system_clock::time_point sourceTime);
  // The client cannot be used (see kafkaErrorIsUnusable): unhealthy until probed OK.
  void markUnusable(RdKafka::ErrorCode code, const std::string& detail, bool fatal);
  void markUsable();
  // On the poller thread, while unhealthy: asks the broker about the topic.
  void probe();
  // Before writing to a record's own topic: makes it exist with `partition` (topicSync).
  Status syncTopic(const std::string& topic, int32_t partition);

  KafkaSinkOptions options_;
  clients::KafkaEventLog events_;  // declared before producer_, which must not outlive it
  mutable std::mutex healthMu_;
  Status health_;                       // guarded by healthMu_
  bool fatal_ = false;                  // guarded by healthMu_
  std::atomic<bool> unhealthy_{false};  // health_ is not OK; read without the lock on the hot path
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Topic> topic_;
  std::mutex syncMu_;
  std::map<std::string, int32_t> synced_;  // guarded by syncMu_: record topics and their partition counts
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace sluice::runtime
