// librdkafka properties for a Kafka connection's security, shared by the
// operator's lag scaler (credentials read from Secrets, as PEM text) and the
// runtime's source and sink (credentials from the environment and mounted
// files). One place says which property each setting fills.
// Pure function; thread-safe.
#pragma once

#include <map>
#include <string>

namespace sluice::clients {

struct KafkaSecurity {
  std::string protocol = "PLAINTEXT";  // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
  std::string saslMechanism;           // "" = no SASL
  std::string saslUsername;
  std::string saslPassword;
  // TLS material as PEM text (from a Secret) or as files (a mounted Secret); "" = unset.
  std::string caPem;
  std::string certificatePem;
  std::string keyPem;
  std::string caFile;
  std::string certificateFile;
  std::string keyFile;
  std::string keyPassword;
};

// What a Kafka client connects with: two clients with equal settings could be
// one (the caches of clients are keyed by it). Ordered, so it is a map key.
struct KafkaClientSettings {
  std::string bootstrapServers;                   // host:port[,host:port...]
  std::map<std::string, std::string> properties;  // librdkafka properties, credentials included
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy takes the defaulted <=>'s "< 0" for a null pointer.
  friend auto operator<=>(const KafkaClientSettings&, const KafkaClientSettings&) = default;
  friend bool operator==(const KafkaClientSettings&, const KafkaClientSettings&) = default;
};

// Sets the field of `security` a Kafka Secret's `key` fills (username,
// password, ca.crt, tls.crt, tls.key: api kafkaSecretKeys); false for another key.
bool setSecretValue(KafkaSecurity& security, const std::string& key, std::string value);

// `extra` (any librdkafka properties) with the security settings laid over it.
std::map<std::string, std::string> kafkaProperties(const KafkaSecurity& security,
                                                   std::map<std::string, std::string> extra = {});

}  // namespace sluice::clients
