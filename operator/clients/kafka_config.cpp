#include "clients/kafka_config.h"

namespace sluice::clients {

bool setSecretValue(KafkaSecurity& security, const std::string& key, std::string value) {
  for (const auto& [name, field] :
       {std::pair{"username", &security.saslUsername}, std::pair{"password", &security.saslPassword},
        std::pair{"ca.crt", &security.caPem}, std::pair{"tls.crt", &security.certificatePem},
        std::pair{"tls.key", &security.keyPem}}) {
    if (key != name) continue;
    *field = std::move(value);
    return true;
  }
  return false;
}

std::map<std::string, std::string> kafkaProperties(const KafkaSecurity& security,
                                                   std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> properties = std::move(extra);
  properties["security.protocol"] = security.protocol;
  if (!security.saslMechanism.empty()) {
    properties["sasl.mechanisms"] = security.saslMechanism;
    properties["sasl.username"] = security.saslUsername;
    properties["sasl.password"] = security.saslPassword;
  }
  for (const auto& [value, property] :
       {std::pair{&security.caPem, "ssl.ca.pem"}, std::pair{&security.certificatePem, "ssl.certificate.pem"},
        std::pair{&security.keyPem, "ssl.key.pem"}, std::pair{&security.caFile, "ssl.ca.location"},
        std::pair{&security.certificateFile, "ssl.certificate.location"},
        std::pair{&security.keyFile, "ssl.key.location"}, std::pair{&security.keyPassword, "ssl.key.password"}}) {
    if (!value->empty()) properties[property] = *value;
  }
  return properties;
}

}  // namespace sluice::clients
