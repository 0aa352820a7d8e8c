// RabbitMqConsumer: the AmqpConsumer of RabbitMqSource over the rabbitmq-c
// client (clients/amqp_connection.h). Owned and used by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "clients/amqp_connection.h"
#include "runtime/sources/amqp_consumer.h"

namespace sluice::runtime {

struct RabbitMqConsumerOptions {
  std::string triggerName;  // in logs and errors
  std::string url;          // amqp://user:password@host:port/vhost, or amqps://
  clients::AmqpTls tls;     // amqps:// URLs only
  std::string queue;
  int prefetch = 10;
  int heartbeatSeconds = 30;
  bool declareQueue = false;  // declare the queue durable first (Sluice's own: the gateway's async invocations)
  // Non-empty: the queue is declared durable when missing and bound to this
  // exchange with each routing key ("" when none) before consuming.
  std::string exchange;
  std::vector<std::string> routingKeys;
  // The routing keys the queue is bound to `exchange` with now (the
  // management API's view); when set, bindings to `exchange` whose key is not
  // in routingKeys are removed after binding. Unset: bindings are only added.
  std::function<Result<std::vector<std::string>>()> boundKeys;
};

class RabbitMqConsumer final : public AmqpConsumer {
 public:
  explicit RabbitMqConsumer(RabbitMqConsumerOptions options)
      : options_(std::move(options)), probationQueue_(probationQueueOf(options_.queue)) {}

  Status open() override;
  bool isOpen() const override { return connection_.isOpen() && probation_.isOpen(); }
  void close(bool graceful) override {
    connection_.close(graceful);
    probation_.close(graceful);
  }
  ConsumeResult consume(std::chrono::milliseconds timeout, AmqpDelivery& delivery) override;
  Status ack(uint64_t deliveryTag) override;
  Status nack(uint64_t deliveryTag, bool requeue) override;
  void cancel() override;
  Status sendHeartbeat() override;

  bool probationExists() const override { return probationExists_; }
  Status ensureProbation(bool quorum) override;
  Status publishProbation(const AmqpDelivery& message) override;
  Status returnToQueue(const AmqpDelivery& message) override;
  ConsumeResult getProbation(AmqpDelivery& delivery) override;
  Status ackProbation(uint64_t deliveryTag) override;
  Status nackProbation(uint64_t deliveryTag, bool requeue) override;

 private:
  // A frame that is not a delivery: broker cancels and closes end the connection.
  ConsumeResult handleUnexpectedFrame();
  // The queue and its bindings to options_.exchange; errors name the Trigger field at fault.
  Status declareBindings();
  // Removes bindings to options_.exchange with keys no longer in routingKeys (needs boundKeys).
  Status removeStaleBindings(const std::vector<std::string>& wanted);

  // The probation queue's connection: no consumer on it, so whatever it
  // reads while waiting for a confirm or a basic.get answer is its own
  // (rabbitmq-c has no wait for one channel's frames: on the consuming
  // connection a confirm wait could swallow deliveries). Confirm mode; looks
  // for the queue (a passive declare).
  Status openProbation();
  // Publishes `message` to `queue` on probation_ and waits for the broker's confirm.
  Status publishConfirmed(const std::string& queue, const AmqpDelivery& message);
  // Waits for the broker's confirm of the one publish in flight on probation_.
  Status waitForConfirm();
  // Sends a heartbeat on probation_ when one is due: it is read only now and then.
  void probationHeartbeat();

  RabbitMqConsumerOptions options_;
  clients::AmqpConnection connection_;
  std::string consumerTag_;
  clients::AmqpConnection probation_;
  std::string probationQueue_;
  bool probationExists_ = false;
  std::chrono::steady_clock::time_point probationBeat_{};
};

}  // namespace sluice::runtime
