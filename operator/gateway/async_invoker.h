// AsyncInvoker: the gateway's asynchronous invocations. A client asks for one
// with `X-Sluice-Invocation-Type: Event`; the gateway then does not wait for
// the handler: it keeps the request (the same /invoke request a synchronous
// call would send, with its method, path, query and headers) durably in the
// queue the Trigger's spec.http.async names, and answers
//   202 Accepted + X-Sluice-Request-Id  once the broker confirmed it,
//   400  the Trigger has no spec.http.async (the message names the field),
//   503 + Retry-After  the queue could not take it (nothing was accepted).
// Because 202 comes only after the broker's confirm, a gateway killed right
// after answering loses nothing. The Function's replicas consume the queue
// (operator/runtime, RabbitMqSource or KafkaSource with httpInvocations) as http.request
// events, with the Function's retries and dead letter: at-least-once.
// Thread-safe when its collaborators are.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clients/amqp_connection.h"
#include "clients/kafka_config.h"
#include "common/status.h"
#include "gateway/route.h"
#include "gateway/upstream.h"
#include "http/http_server.h"

namespace sluice::gateway {

inline constexpr const char* kInvocationTypeHeader = "x-sluice-invocation-type";  // lower-case, as requests carry it
inline constexpr const char* kRequestIdHeader = "X-Sluice-Request-Id";

// A Kafka topic keeping a Trigger's asynchronous invocations.
struct KafkaTopicTarget {
  clients::KafkaClientSettings client;  // brokers and librdkafka security properties, credentials included
  std::string topic;
};

// Where a Trigger's asynchronous invocations are kept: a RabbitMQ queue
// (spec.http.async.rabbitmq), or a Kafka topic (spec.http.async.kafka).
struct AsyncTarget {
  std::string amqpUrl;
  std::string queue;
  std::optional<KafkaTopicTarget> kafka;  // set instead of amqpUrl and queue
  clients::AmqpTls amqpTls;               // amqps:// URLs only
};

// The headers an invocation is kept with: the /invoke request's (method,
// path, query, source ip and the client's own), names lower-cased as the
// replica's /invoke hands them to the handler.
std::vector<std::pair<std::string, std::string>> invocationHeaders(const UpstreamRequest& request);

// The durable store of accepted invocations (BrokerInvocationQueue; a fake in unit tests).
class InvocationQueue {
 public:
  virtual ~InvocationQueue() = default;
  // OK only once `request` is durably kept under `requestId`.
  virtual Status enqueue(const AsyncTarget& target, const std::string& requestId, const UpstreamRequest& request) = 0;
};

enum class InvocationType { kRequestResponse, kEvent };

// The invocation type a client asked for: RequestResponse (the default) or
// Event, case-insensitive; any other value is an error naming both.
Result<InvocationType> invocationTypeOf(const http::ServerRequest& request);

class AsyncInvoker {
 public:
  // `targetOf(namespace, trigger)`: the Trigger's spec.http.async resolved
  // (its Secret read), null when it has none, an error when it cannot be resolved.
  using TargetLookup =
      std::function<Result<std::shared_ptr<const AsyncTarget>>(const std::string&, const std::string&)>;
  // `newRequestId`: a fresh unique id per call.
  AsyncInvoker(TargetLookup targetOf, InvocationQueue& queue, std::function<Result<std::string>()> newRequestId,
               int retryAfterSeconds = 1);

  // The answer to an asynchronous call of `route`'s Function through `trigger`.
  http::ServerResponse accept(const Route& route, const std::string& trigger, const UpstreamRequest& invoke);

 private:
  TargetLookup targetOf_;
  InvocationQueue& queue_;
  std::function<Result<std::string>()> newRequestId_;
  const int retryAfterSeconds_;
};

}  // namespace sluice::gateway
