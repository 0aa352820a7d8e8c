#include "gateway/kafka_invocation_queue.h"

namespace sluice::gateway {

Result<clients::KafkaPublisher*> KafkaInvocationQueue::publisherFor(const KafkaTopicTarget& target) {
  std::lock_guard lock(mu_);
  // Found by the target's own settings: a request that finds its publisher allocates nothing here.
  if (auto it = publishers_.find(target.client); it != publishers_.end()) return it->second.get();
  auto created = clients::KafkaPublisher::create(target.client.bootstrapServers, target.client.properties);
  if (!created.isOk()) return created.status();
  // Never erased once made: the pointer stays valid.
  return publishers_.emplace(target.client, std::move(created).value()).first->second.get();
}

Status KafkaInvocationQueue::enqueue(const AsyncTarget& target, const std::string& requestId,
                                     const UpstreamRequest& request) {
  if (!target.kafka) return invalidArgument("no Kafka topic for this invocation");
  Result<clients::KafkaPublisher*> publisher = publisherFor(*target.kafka);
  if (!publisher.isOk()) return publisher.status();
  return (*publisher)
      ->publish(target.kafka->topic, clients::KafkaRecord{requestId, invocationHeaders(request), request.body});
}

}  // namespace sluice::gateway
