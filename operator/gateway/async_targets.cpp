#include "gateway/async_targets.h"

#include "api/v1alpha1/trigger.h"
#include "common/encoding.h"
#include "kube/resource.h"
#include "spec/amqp_tls.h"
#include "spec/kafka_client_settings.h"

namespace sluice::gateway {

Result<std::shared_ptr<const AsyncTarget>> AsyncTargets::lookup(const std::string& ns, const std::string& trigger) {
  std::string key = kube::objectKey(ns, trigger);
  kube::ObjectPtr object = triggers_.cache().get(key);
  if (!object) return Status(StatusCode::kNotFound, "Trigger " + ns + "/" + trigger + " is gone");
  const Clock::TimePoint now = clock_.now();
  {
    std::lock_guard lock(mu_);
    auto it = resolved_.find(key);
    if (it != resolved_.end() && it->second.trigger == object && now - it->second.resolvedAt < secretTtl_) {
      return it->second.target;
    }
  }
  // Errors are not kept: the next call tries again (a Secret may be created meanwhile).
  Result<std::shared_ptr<const AsyncTarget>> target = resolve(ns, trigger, *object);
  if (!target.isOk()) return target;
  std::lock_guard lock(mu_);
  resolved_[std::move(key)] = Resolved{std::move(object), now, *target};
  return target;
}

Result<std::shared_ptr<const AsyncTarget>> AsyncTargets::resolve(const std::string& ns, const std::string& trigger,
                                                                 const kube::Json& object) {
  Result<api::v1alpha1::Trigger> parsed = api::v1alpha1::Trigger::fromJson(object);
  if (!parsed.isOk()) return parsed.status().withContext("Trigger " + ns + "/" + trigger);
  if (parsed->httpAsyncKafka) return kafkaTarget(ns, *parsed->httpAsyncKafka);
  if (!parsed->httpAsync) return std::shared_ptr<const AsyncTarget>();
  const api::v1alpha1::RabbitMqSource& queue = *parsed->httpAsync;
  Result<std::string> url = secretValue(ns, queue.connectionSecretName, queue.urlKey);
  if (!url.isOk()) return url.status().withContext("spec.http.async.rabbitmq.connectionSecretRef");
  auto tls = spec::amqpTls(queue, "spec.http.async.rabbitmq",
                           [this, &ns](const api::v1alpha1::SecretKey& need) -> Result<std::string> {
                             Result<std::string> value = secretValue(ns, need.secret, need.key);
                             if (!value.isOk()) return value.status().withContext(need.field);
                             return value;
                           });
  if (!tls.isOk()) return tls.status();
  return std::make_shared<const AsyncTarget>(AsyncTarget{*url, queue.queue, std::nullopt, std::move(tls).value()});
}

Result<std::shared_ptr<const AsyncTarget>> AsyncTargets::kafkaTarget(const std::string& ns,
                                                                     const api::v1alpha1::KafkaSource& kafka) {
  auto settings = spec::kafkaClientSettings(kafka, "spec.http.async.kafka",
                                            [this, &ns](const api::v1alpha1::SecretKey& need) -> Result<std::string> {
                                              Result<std::string> value = secretValue(ns, need.secret, need.key);
                                              if (!value.isOk()) return value.status().withContext(need.field);
                                              return value;
                                            });
  if (!settings.isOk()) return settings.status();
  auto target = std::make_shared<AsyncTarget>();
  target->kafka = KafkaTopicTarget{std::move(settings).value(), kafka.topics.front()};
  return std::shared_ptr<const AsyncTarget>(std::move(target));
}

Result<std::string> AsyncTargets::secretValue(const std::string& ns, const std::string& secret,
                                              const std::string& key) {
  const std::string cacheKey = ns + "/" + secret + "/" + key;
  {
    std::lock_guard lock(mu_);
    auto it = secrets_.find(cacheKey);
    if (it != secrets_.end() && clock_.now() - it->second.readAt < secretTtl_) return it->second.value;
  }
  Result<kube::Json> object = client_.get(kube::resources::kSecrets, ns, secret);
  if (!object.isOk()) return object.status().withContext("Secret " + ns + "/" + secret);
  const kube::Json& data = object->value("data", kube::Json::object());
  if (!data.is_object() || !data.contains(key) || !data[key].is_string()) {
    return Status(StatusCode::kNotFound, "Secret " + ns + "/" + secret + " has no key " + key);
  }
  Result<std::string> decoded = base64Decode(data[key].get<std::string>());
  if (!decoded.isOk()) return decoded.status().withContext("Secret " + ns + "/" + secret + " key " + key);
  std::lock_guard lock(mu_);
  secrets_[cacheKey] = CachedValue{*decoded, clock_.now()};
  return *decoded;
}

}  // namespace sluice::gateway
