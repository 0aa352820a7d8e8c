#include "gateway/amqp_invocation_queue.h"

namespace sluice::gateway {

clients::AmqpPublisher& AmqpInvocationQueue::publisherFor(const std::string& url) {
  std::lock_guard lock(mu_);
  std::unique_ptr<clients::AmqpPublisher>& publisher = publishers_[url];
  if (!publisher) publisher = std::make_unique<clients::AmqpPublisher>(url);
  return *publisher;  // never erased: the reference stays valid
}

Status AmqpInvocationQueue::enqueue(const AsyncTarget& target, const std::string& requestId,
                                    const UpstreamRequest& request) {
  clients::AmqpMessage message;
  message.messageId = requestId;
  message.body = request.body;
  message.headers = invocationHeaders(request);
  for (const auto& [name, value] : message.headers) {
    if (name == "content-type") message.contentType = value;
  }
  return publisherFor(target.amqpUrl).publish(target.queue, message);
}

}  // namespace sluice::gateway
