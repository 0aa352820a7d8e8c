// AmqpInvocationQueue: the InvocationQueue over RabbitMQ. Each invocation is
// one persistent message in the Trigger's durable queue, confirmed by the
// broker before enqueue() returns: the message id is the request id, the AMQP
// headers are the /invoke request's headers (sluice.http.method, path, query,
// source-ip and the client's own), the body is the request body.
// One confirmed publisher per broker URL. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "clients/amqp_publisher.h"
#include "gateway/async_invoker.h"

namespace sluice::gateway {

class AmqpInvocationQueue final : public InvocationQueue {
 public:
  Status enqueue(const AsyncTarget& target, const std::string& requestId, const UpstreamRequest& request) override;

 private:
  clients::AmqpPublisher& publisherFor(const std::string& url, const clients::AmqpTls& tls);

  std::mutex mu_;
  // By URL and TLS material: the same broker trusted through another CA is another publisher.
  std::map<std::string, std::unique_ptr<clients::AmqpPublisher>> publishers_;  // guarded by mu_
};

}  // namespace sluice::gateway
