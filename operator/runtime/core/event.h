// Event and Record: what flows through a replica.
//
// A source turns each input message (Kafka record, AMQP delivery, object,
// HTTP request, cron tick) into one canonical Event. The handler (Python or a
// built-in pipeline) turns an Event into zero or more output Records, each
// bound for a sink. Plain values; safe to copy and move between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::runtime {

using Headers = std::vector<std::pair<std::string, std::string>>;  // ordered; keys may repeat (as in Kafka)

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
};

}  // namespace sluice::runtime
