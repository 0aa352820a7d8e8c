// KafkaPublisher: produces one record at a time and returns only once the
// broker acknowledged it (an idempotent producer with acks=all), so an OK
// means every in-sync replica of the partition has the record — the caller
// may now promise it will be delivered. The Kafka counterpart of
// AmqpPublisher, for callers that must not answer before that point (the
// gateway's asynchronous invocations); a throughput-oriented writer
// pipelines delivery reports instead (runtime KafkaSink).
//
// A publish that the broker does not acknowledge within `confirmTimeout`
// (unreachable brokers, a refused topic, a wrong password) fails; librdkafka
// gives the record up at that deadline too (message.timeout.ms), so a failed
// publish is never delivered later. librdkafka reconnects by itself.
// Thread-safe: publishes from any thread run concurrently on one producer.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "clients/kafka_client.h"
#include "common/status.h"

namespace sluice::clients {

struct KafkaRecord {
  std::string key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string value;
  bool nullKey = false;  // no key at all (partitioned as keyless), rather than an empty one
};

class KafkaPublisher final : private RdKafka::DeliveryReportCb {
 public:
  // `properties`: security and any other librdkafka properties (kafkaProperties()).
  static Result<std::unique_ptr<KafkaPublisher>> create(
      const std::string& bootstrapServers, std::map<std::string, std::string> properties,
      std::chrono::milliseconds confirmTimeout = std::chrono::seconds(10));
  ~KafkaPublisher() override;

  // OK once the broker acknowledged `record` in `topic`.
  Status publish(const std::string& topic, const KafkaRecord& record);

 private:
  struct Pending;
  KafkaPublisher(std::string bootstrapServers, std::chrono::milliseconds confirmTimeout);
  void dr_cb(RdKafka::Message& message) override;

  const std::string bootstrapServers_;
  const std::chrono::milliseconds confirmTimeout_;
  KafkaEventLog events_;  // declared before producer_, which must not outlive it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports
};

}  // namespace sluice::clients
