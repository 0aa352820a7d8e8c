// AmqpProperties: every basic property of an AMQP 0-9-1 message, as plain
// values, so a message can be carried from a RabbitMQ source through the
// delivery loop to a RabbitMQ sink and published again unchanged (the
// RabbitMQ mirror, docs/pipeline.md). It lives below the runtime's layers
// because both the sources and the sinks fill or read it; the conversions to
// and from rabbitmq-c's amqp_basic_properties_t are in
// clients/amqp_properties.h. Plain value; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct AmqpProperties {
  // Which properties are present, as AMQP's property flags
  // (AMQP_BASIC_*_FLAG): a present but empty string is not an absent one.
  uint32_t flags = 0;
  std::string contentType;
  std::string contentEncoding;
  // The headers field table exactly as AMQP encodes it (its 4-byte length
  // first): value kinds, nested tables and arrays kept, which the runtime's
  // text headers cannot hold.
  std::string headersTable;
  uint8_t deliveryMode = 0;
  uint8_t priority = 0;
  std::string correlationId;
  std::string replyTo;
  std::string expiration;
  std::string messageId;
  uint64_t timestamp = 0;
  std::string type;
  std::string userId;
  std::string appId;
  std::string clusterId;  // deprecated by AMQP 0-9-1, still carried

  bool has(uint32_t flag) const { return (flags & flag) != 0; }
  friend bool operator==(const AmqpProperties&, const AmqpProperties&) = default;
};

}  // namespace sluice
