#include "gateway/amqp_invocation_queue.h"

#include <cctype>

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
  for (const auto& [name, value] : request.headers) {
    // Lower-case, as the replica's /invoke hands headers to the handler.
    std::string lowered = name;
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lowered == "content-type") message.contentType = value;
    message.headers.emplace_back(std::move(lowered), value);
  }
  return publisherFor(target.amqpUrl).publish(target.queue, message);
}

}  // namespace sluice::gateway
