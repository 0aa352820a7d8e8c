// BrokerInvocationQueue: the gateway's InvocationQueue. Each invocation goes
// to the broker its target names: a Kafka topic (KafkaInvocationQueue) or a
// RabbitMQ queue (AmqpInvocationQueue). Thread-safe.
#pragma once

#include "gateway/amqp_invocation_queue.h"
#include "gateway/kafka_invocation_queue.h"

namespace sluice::gateway {

class BrokerInvocationQueue final : public InvocationQueue {
 public:
  Status enqueue(const AsyncTarget& target, const std::string& requestId, const UpstreamRequest& request) override {
    return target.kafka ? kafka_.enqueue(target, requestId, request) : amqp_.enqueue(target, requestId, request);
  }

 private:
  AmqpInvocationQueue amqp_;
  KafkaInvocationQueue kafka_;
};

}  // namespace sluice::gateway
