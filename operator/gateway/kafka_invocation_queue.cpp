#include "gateway/kafka_invocation_queue.h"

namespace sluice::gateway {

Result<clients::KafkaPublisher*> KafkaInvocationQueue::publisherFor(const KafkaTopicTarget& target) {
  std::string key = target.bootstrapServers;
  for (const auto& [name, value] : target.properties) key += '\n' + name + '=' + value;
  std::lock_guard lock(mu_);
  std::unique_ptr<clients::KafkaPublisher>& publisher = publishers_[key];
  if (!publisher) {
    auto created = clients::KafkaPublisher::create(target.bootstrapServers, target.properties);
    if (!created.isOk()) {
      publishers_.erase(key);
      return created.status();
    }
    publisher = std::move(created).value();
  }
  return publisher.get();  // never erased once made: the pointer stays valid
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
