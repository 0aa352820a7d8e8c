#include "spec/kafka_client_settings.h"

#include "common/strings.h"

namespace sluice::spec {

Result<clients::KafkaClientSettings> kafkaClientSettings(const api::v1alpha1::KafkaSource& kafka,
                                                         const std::string& path, const SecretReader& readSecret) {
  clients::KafkaSecurity security;
  security.protocol = kafka.securityProtocol();
  if (kafka.sasl) security.saslMechanism = kafka.sasl->mechanism;
  for (const api::v1alpha1::SecretKey& need : api::v1alpha1::kafkaSecretKeys(kafka, path)) {
    Result<std::string> value = readSecret(need);
    if (!value.isOk()) return value.status();
    clients::setSecretValue(security, need.key, std::move(value).value());
  }
  return clients::KafkaClientSettings{join(kafka.bootstrapServers, ","), clients::kafkaProperties(security)};
}

}  // namespace sluice::spec
