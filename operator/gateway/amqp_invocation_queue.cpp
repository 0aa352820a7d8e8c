#include "gateway/amqp_invocation_queue.h"

namespace sluice::gateway {

clients::AmqpPublisher& AmqpInvocationQueue::publisherFor(const std::string& url, const clients::AmqpTls& tls) {
  std::lock_guard lock(mu_);
  // NUL separates the parts: it cannot occur in a URL or in PEM text.
  const std::string key = url + '\0' + tls.caPem + '\0' + tls.certificatePem + '\0' + tls.keyPem;
  std::unique_ptr<clients::AmqpPublisher>& publisher = publishers_[key];
  if (!publisher) publisher = std::make_unique<clients::AmqpPublisher>(url, tls);
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
  return publisherFor(target.amqpUrl, target.amqpTls).publish(target.queue, message);
}

}  // namespace sluice::gateway
