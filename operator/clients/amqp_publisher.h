// AmqpPublisher: publishes one message at a time to a queue and returns only
// once the broker has confirmed it (publisher confirms), so an OK means the
// message is on the broker as a persistent message in a durable queue — the
// caller may now promise it will be delivered. For callers that must not
// answer before that point (the gateway's asynchronous invocations); a
// throughput-oriented sink pipelines confirms instead (runtime RabbitMqSink).
//
// Queues are declared durable on first use. A broken connection is reopened
// on the next publish; the failed publish returns an error (never retried
// here: the caller decides). Thread-safe: publishes are serialised on the one
// connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "clients/amqp_connection.h"
#include "common/status.h"

namespace sluice::clients {

struct AmqpMessage {
  std::string messageId;                                     // "": none
  std::vector<std::pair<std::string, std::string>> headers;  // string values; a repeated name keeps its first value
  std::string contentType = "application/octet-stream";
  std::string body;
  // Kept when a message is published again as it was (`sluice dlq redrive`); "" / nullopt: not set.
  std::string correlationId;
  std::string expiration;
  std::optional<uint8_t> priority;
};

class AmqpPublisher {
 public:
  // `declareQueues` false: queues are taken as they are (one a consumer owns may
  // have arguments a plain durable declare would clash with); a missing one
  // fails the publish, which is mandatory.
  explicit AmqpPublisher(std::string url, AmqpTls tls = {},
                         std::chrono::milliseconds confirmTimeout = std::chrono::seconds(10), bool declareQueues = true)
      : url_(std::move(url)), tls_(std::move(tls)), confirmTimeout_(confirmTimeout), declareQueues_(declareQueues) {}

  // Publishes `message` persistent and mandatory to `queue` through the default
  // exchange; OK on the broker's basic.ack only (nack, return, timeout or a
  // lost connection fail it).
  Status publish(const std::string& queue, const AmqpMessage& message);

 private:
  Status connectLocked();
  Status awaitConfirmLocked(uint64_t tag);

  const std::string url_;
  const AmqpTls tls_;
  const std::chrono::milliseconds confirmTimeout_;
  const bool declareQueues_;
  std::mutex mu_;
  AmqpConnection connection_;       // guarded by mu_
  std::set<std::string> declared_;  // guarded by mu_: queues declared on this connection
  uint64_t nextTag_ = 1;            // guarded by mu_: the channel's next delivery tag
};

}  // namespace sluice::clients
