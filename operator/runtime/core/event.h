// Event and Record: what flows through a replica.
//
// A source turns each input message (Kafka record, AMQP delivery, object,
// HTTP request, cron tick) into one canonical Event. The handler (Python or a
// built-in pipeline) turns an Event into zero or more output Records, each
// bound for a sink. Plain values; safe to copy and move between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/amqp_properties.h"

namespace sluice::runtime {

using Headers = std::vector<std::pair<std::string, std::string>>;  // ordered; keys may repeat (as in Kafka)

// The message properties of an AMQP input that a RabbitMQ output keeps on
// what it writes for it (the input's timestamp is the Event's time; the
// output is stamped when published). Strings are "" when the input had none.
struct MessageProperties {
  std::string messageId;
  std::string correlationId;
  std::string contentType;
  std::string expiration;  // per-message TTL in milliseconds, as AMQP carries it (text)
  std::optional<uint8_t> priority;
  Headers headers;  // the input's own headers table (without what the source adds, e.g. x-redelivered)
  // Every property exactly as the publisher set it (headers with their value
  // kinds and nested tables), and the exchange it was published to: what a
  // RabbitMQ mirror publishes unchanged (the fields above are for other outputs).
  AmqpProperties all;
  std::string exchange;
};

struct Event {
  std::string id;      // unique per input message, e.g. "topic/partition/offset", AMQP message id, object key+etag
  std::string source;  // "kafka" | "rabbitmq" | "http" | "cron" | "s3" | "dir" | "webhdfs"
  std::string type;    // e.g. "kafka.record", "object.created", "cron.tick", "http.request"
  std::chrono::system_clock::time_point time{};
  std::string subject;  // topic, queue, bucket/key or path: where it came from
  std::optional<std::string> key;
  Headers headers;
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
  std::string data;  // payload bytes, not necessarily UTF-8
  // Set by the RabbitMQ source (not for the gateway's invocations): shared, so
  // handing it to every output record of the event copies nothing.
  std::shared_ptr<const MessageProperties> amqp;
  // Earlier deliveries of this event that ended with the replica's process
  // exiting (a crash, or a handler that outlived its timeout), as its source
  // counted them (Kafka: crash marks; RabbitMQ: x-delivery-count). The
  // delivery loop dead-letters it, unhandled, once this reaches maxAttempts.
  int exits = 0;
};

struct Record {
  std::optional<std::string> key;
  std::string value;  // bytes
  Headers headers;
  std::optional<int32_t> partition;  // kept by mirror; otherwise the sink partitions by key
  std::string sink;                  // name of the output (spec.outputs[].name); empty = the default output
  // The AMQP properties of the input it came from (the delivery loop sets it
  // from the event); a RabbitMQ output keeps them. Null for other inputs.
  std::shared_ptr<const MessageProperties> amqp;
  // "<event id>#<n>" for the n-th output of one event (set by the delivery
  // loop; empty for a list handler's outputs, which belong to a whole batch).
  // A RabbitMQ output uses it as the message id of a record whose input had
  // none, so a retried write or a redelivered input (e.g. a Kafka record after
  // a kill -9) carries the same id and a consumer can drop the duplicate.
  std::string originId;
  // The Kafka topic to write to instead of the output's own (set by a mirror
  // that keeps or renames source topics); empty = the output's topic.
  std::string topic;
  // Set by a mirror: where on the source cluster the record was read (its
  // offset, -1 otherwise, and its timestamp), so the Kafka output can keep
  // offset-sync pairs for consumer-group offset translation and measure lag.
  int64_t sourceOffset = -1;
  std::chrono::system_clock::time_point sourceTime{};
};

}  // namespace sluice::runtime
