// RdKafkaConsumer: the KafkaConsumer of a KafkaSource, over librdkafka.
//
// Records come in batches from the consumer queue (rd_kafka_consume_batch_queue,
// one call for many records, not one consume() per record); rebalance and
// offset-commit callbacks run inside the calls that serve them and are passed
// on to the listener. librdkafka's errors and log lines are logged under the
// owner's name ("kafka trigger orders"). Not thread-safe: the source's thread
// owns it.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "clients/kafka_client.h"
#include "runtime/sources/kafka_consumer.h"

namespace sluice::runtime {

class RdKafkaConsumer final : public KafkaConsumer, private RdKafka::RebalanceCb, private RdKafka::OffsetCommitCb {
 public:
  explicit RdKafkaConsumer(std::string owner);
  ~RdKafkaConsumer() override;

  Status open(const std::map<std::string, std::string>& properties, const std::vector<std::string>& topics,
              KafkaConsumerListener& listener) override;
  size_t consume(std::vector<KafkaRecord>& records, size_t max, std::chrono::milliseconds timeout) override;
  Status assign(const std::vector<KafkaPartition>& partitions, bool cooperative) override;
  std::vector<KafkaPartition> assignment() override;
  bool assignmentLost() override;
  void pause(const std::vector<KafkaPartition>& partitions) override;
  void resume(const std::vector<KafkaPartition>& partitions) override;
  Status commitAsync(const std::vector<KafkaPartition>& offsets) override;
  Status commitSync(std::vector<KafkaPartition>& offsets) override;
  Status committed(std::vector<KafkaPartition>& partitions, std::chrono::milliseconds timeout) override;
  std::optional<KafkaWatermarks> watermarks(const std::string& topic, int32_t partition, bool askBroker,
                                            std::chrono::milliseconds timeout) override;
  bool clusterReachable(std::chrono::milliseconds timeout) override;
  void close(std::chrono::milliseconds budget) override;

 private:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override;
  KafkaRecord recordOf(const rd_kafka_message_t& message);
  // Calls the listener for a rebalance (see rebalance_cb for the pause barrier around it).
  void serveRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                      std::vector<RdKafka::TopicPartition*>& partitions, bool cooperative);
  // Forgets the pause of partitions leaving the assignment (see the definition).
  void resumeLeaving(const std::vector<RdKafka::TopicPartition*>& partitions);

  std::string owner_;
  // Declared before consumer_, which must not outlive it; both are leaked together when the member is abandoned.
  std::unique_ptr<clients::KafkaEventLog> events_;
  KafkaConsumerListener* listener_ = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  rd_kafka_queue_t* queue_ = nullptr;       // the consumer queue (records and rebalance events)
  std::vector<rd_kafka_message_t*> batch_;  // one consume call's messages, reused
  // The name of the topic of the last record (records come in runs of one topic).
  const rd_kafka_topic_t* lastTopic_ = nullptr;
  std::string lastTopicName_;
  // The partitions the source paused (pause() minus resume()): librdkafka
  // keeps an application's pause through a revoke and a later re-assignment.
  std::set<std::pair<std::string, int32_t>> appPaused_;
  // close() gave up on the group: the handle is leaked, not destroyed (see close()).
  bool abandoned_ = false;
};

}  // namespace sluice::runtime
