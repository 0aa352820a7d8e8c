// KafkaSink: writes Records to one Kafka topic with an idempotent producer
// (enable.idempotence=true, acks=all), so a record counts as written only
// when every in-sync replica has it, and retries inside librdkafka neither
// duplicate nor reorder records. The record's key and headers are kept, and
// its partition too when the Record names one (mirroring).
//
// Thread-safe: write() from any thread; callbacks run on the sink's own
// delivery-report thread. writeBatch() costs one allocation per batch, not
// per record: every record's delivery report points into the batch's slots.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

#include "runtime/sinks/sink.h"
#include "runtime/sources/kafka_client.h"

namespace sluice::runtime {

struct KafkaSinkOptions {
  std::string bootstrapServers;
  std::string topic;
  std::map<std::string, std::string> properties;  // extra librdkafka properties (security, linger.ms, ...)
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

 private:
  struct BatchWrite;
  explicit KafkaSink(KafkaSinkOptions options)
      : options_(std::move(options)), events_("kafka output \"" + options_.topic + "\"") {}
  void dr_cb(RdKafka::Message& message) override;

  KafkaSinkOptions options_;
  KafkaEventLog events_;  // declared before producer_, which must not outlive it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Topic> topic_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace sluice::runtime
