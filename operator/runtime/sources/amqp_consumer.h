// AmqpConsumer: the little RabbitMqSource needs of a broker, as a seam, so the
// source's bookkeeping (ack only after the delivery loop's ack, nack with or
// without requeue, tags void after a reconnect, redelivery of what was unacked
// when a connection dropped) is unit-tested over an in-memory fake
// (tests/fakes/fake_amqp_consumer.h). The real one is RabbitMqConsumer
// (rabbitmq_consumer.h), over the rabbitmq-c client.
//
// One connection with one channel consuming one queue with manual acks. Not
// thread-safe: the source's thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "clients/amqp_connection.h"
#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

// One message as the broker delivered it.
struct AmqpDelivery {
  uint64_t deliveryTag = 0;  // valid on the connection that delivered it only
  bool redelivered = false;
  std::string messageId;      // "" when the message has none
  std::string correlationId;  // "" when unset, likewise the next two
  std::string contentType;
  std::string expiration;
  std::optional<uint8_t> priority;
  Headers headers;                          // the message's headers table
  std::optional<int64_t> timestampSeconds;  // the timestamp property, when set
  std::string routingKey;
  std::string exchange;  // the exchange it was published to ("" = the default exchange)
  // Every property as the broker delivered it (the fields above are their
  // plain views); a probation copy and a mirror publish these.
  AmqpProperties properties;
  std::string body;
};

enum class ConsumeResult {
  kDelivery,  // `delivery` holds the next message
  kNothing,   // nothing arrived in time (or only a frame the consumer handled itself)
  kClosed,    // the connection is gone (closed by the broker, or broken): open() again
};

class AmqpConsumer {
 public:
  virtual ~AmqpConsumer() = default;

  // Connects, sets the prefetch (basic.qos) and starts consuming the queue
  // (declaring it first when the consumer was made to). The error names the
  // queue or the broker, never the password.
  virtual Status open() = 0;
  virtual bool isOpen() const = 0;
  // graceful: with the AMQP closing handshake (acks sent before are processed
  // first); false when the socket is broken. Deliveries not acked are requeued
  // by the broker.
  virtual void close(bool graceful) = 0;

  // Waits up to `timeout` for the next delivery.
  virtual ConsumeResult consume(std::chrono::milliseconds timeout, AmqpDelivery& delivery) = 0;
  // basic.ack / basic.nack of one delivery of the open connection.
  virtual Status ack(uint64_t deliveryTag) = 0;
  virtual Status nack(uint64_t deliveryTag, bool requeue) = 0;
  // basic.cancel: no new deliveries; those already here can still be acked.
  virtual void cancel() = 0;
  // A heartbeat frame, for while the source holds back from reading.
  virtual Status sendHeartbeat() = 0;

  // The probation queue, "<queue>.sluice-probation" (see rabbitmq_source.h):
  // where suspect deliveries wait to be handled one at a time. It is read by
  // basic.get only, and written with publisher confirms; its tags are its own
  // (void after a reconnect like the others).
  // Whether it exists: open() looks (passively), ensureProbation() makes it.
  virtual bool probationExists() const = 0;
  // Declares it durable unless it exists (then it keeps its arguments), a
  // quorum queue when `quorum`. Idempotent.
  virtual Status ensureProbation(bool quorum) = 0;
  // Publishes `message` (properties, headers, body; not its tag) to the
  // probation queue, persistent, and waits for the broker's confirm: OK only
  // once the broker has taken responsibility for the copy.
  virtual Status publishProbation(const AmqpDelivery& message) = 0;
  // The same, to the source queue itself (the default exchange, routed by its
  // name): how a probation message given up on reaches the source queue's own
  // dead-letter exchange (the probation queue has none).
  virtual Status returnToQueue(const AmqpDelivery& message) = 0;
  // basic.get of the probation queue's next message: kNothing when it is empty.
  virtual ConsumeResult getProbation(AmqpDelivery& delivery) = 0;
  virtual Status ackProbation(uint64_t deliveryTag) = 0;
  virtual Status nackProbation(uint64_t deliveryTag, bool requeue) = 0;
};

using clients::probationQueueOf;

}  // namespace sluice::runtime
