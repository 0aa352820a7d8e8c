// Helpers for runtime integration tests against the real RabbitMQ
// (RABBITMQ_AMQP_URL from build/testenv.env), written directly on rabbitmq-c
// so they do not depend on the runtime code under test: declaring and
// deleting queues, publishing with confirms, and reading a queue back.
// Each call opens its own connection; not thread-safe per object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

struct AmqpMessage {
  AmqpMessage() = default;
  // The properties most tests set; the rest are assigned by name.
  AmqpMessage(std::string id, std::string payload, std::map<std::string, std::string> headerTable = {},
              bool wasRedelivered = false)
      : messageId(std::move(id)),
        body(std::move(payload)),
        headers(std::move(headerTable)),
        redelivered(wasRedelivered) {}

  std::string messageId;
  std::string body;
  std::map<std::string, std::string> headers;  // string-valued headers only
  bool redelivered = false;
  // Further properties, "" / unset when absent (published only when set).
  std::string correlationId;
  std::string contentType;
  std::string expiration;
  std::optional<uint8_t> priority;
  std::optional<uint64_t> timestamp;  // read only: seconds since the epoch
};

// Declares a durable queue; `deadLetterQueue` non-empty sets its DLX to the
// default exchange with that routing key (so a nack without requeue lands there);
// `quorum`: a quorum queue (x-queue-type), which counts returns in x-delivery-count.
void declareQueue(const std::string& url, const std::string& queue, const std::string& deadLetterQueue = "",
                  bool quorum = false);
void deleteQueue(const std::string& url, const std::string& queue);

// Publishes persistent messages to the default exchange and waits for every confirm.
void publishAll(const std::string& url, const std::string& queue, const std::vector<AmqpMessage>& messages);

// Publishes persistent, mandatory messages to `exchange` with `routingKey` and
// waits for every confirm; returns how many the broker returned because no
// queue is bound for that key.
size_t publishTo(const std::string& url, const std::string& exchange, const std::string& routingKey,
                 const std::vector<AmqpMessage>& messages);

// Declares a (non-durable) exchange of `type` (direct, topic, fanout, headers); deletes one.
void declareExchange(const std::string& url, const std::string& exchange, const std::string& type);
void deleteExchange(const std::string& url, const std::string& exchange);

// Consumes (and acks) from `queue` until `expected` messages arrived and then
// `settle` passes without new ones, or `timeout` passes.
std::vector<AmqpMessage> consumeQueue(const std::string& url, const std::string& queue, size_t expected,
                                      std::chrono::milliseconds settle, std::chrono::milliseconds timeout);

// Messages ready in `queue` (not counting unacknowledged ones).
uint32_t readyCount(const std::string& url, const std::string& queue);

// Closes, through the management API (`httpUrl`, RABBITMQ_HTTP_URL), every
// AMQP connection that process `pid` has open to the broker of `amqpUrl`, as
// a broker restart or network cut would. Other clients of the shared broker
// are untouched. Returns how many were closed.
int closeConnectionsOf(pid_t pid, const std::string& amqpUrl, const std::string& httpUrl);

// The client certificate subject (e.g. "CN=sluice test client") of each AMQP
// connection process `pid` has open to the broker of `amqpUrl`, from the
// management API; "" for a connection that presented none.
std::vector<std::string> peerCertificateSubjectsOf(pid_t pid, const std::string& amqpUrl, const std::string& httpUrl);

// Destroys (`ss -K`, as root) the TCP sockets process `pid` has open to the
// broker of `amqpUrl`: a connection gone without a close frame, as a dropped
// network or a broker giving up on missed heartbeats leaves it. The process
// learns only when it next reads or writes. Returns how many were destroyed.
int dropConnectionsOf(pid_t pid, const std::string& amqpUrl);

}  // namespace sluice::testing
