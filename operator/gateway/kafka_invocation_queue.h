// KafkaInvocationQueue: the InvocationQueue over Kafka. Each invocation is one
// record in the Trigger's topic, acknowledged by the broker (acks=all) before
// enqueue() returns: the key is the request id, the headers are the /invoke
// request's (sluice.http.method, path, query, source-ip and the client's
// own), the value is the request body — the envelope AmqpInvocationQueue
// writes, in Kafka's terms. One publisher per brokers-and-credentials, kept
// for the process's life (why not in scalers' RdKafkaClientPool: its header).
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "clients/kafka_config.h"
#include "clients/kafka_publisher.h"
#include "gateway/async_invoker.h"

namespace sluice::gateway {

class KafkaInvocationQueue final : public InvocationQueue {
 public:
  Status enqueue(const AsyncTarget& target, const std::string& requestId, const UpstreamRequest& request) override;

 private:
  Result<clients::KafkaPublisher*> publisherFor(const KafkaTopicTarget& target);

  std::mutex mu_;
  // guarded by mu_; keyed by brokers and properties, so changed credentials get a new publisher
  std::map<clients::KafkaClientSettings, std::unique_ptr<clients::KafkaPublisher>> publishers_;
};

}  // namespace sluice::gateway
