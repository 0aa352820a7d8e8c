// The librdkafka properties both the lag scaler and the runtime build.
#include "clients/kafka_config.h"

#include <gtest/gtest.h>

namespace sluice::clients {
namespace {

using Properties = std::map<std::string, std::string>;

TEST(KafkaConfigTest, PlaintextKeepsTheExtraProperties) {
  EXPECT_EQ(kafkaProperties({}, {{"client.id", "c"}, {"security.protocol", "SSL"}}),
            (Properties{{"client.id", "c"}, {"security.protocol", "PLAINTEXT"}}));
}

TEST(KafkaConfigTest, SaslWithPemMaterialFromSecrets) {
  KafkaSecurity security;
  security.protocol = "SASL_SSL";
  security.saslMechanism = "PLAIN";
  security.saslUsername = "u";
  security.saslPassword = "p";
  security.caPem = "CA";
  security.certificatePem = "CERT";
  security.keyPem = "KEY";
  EXPECT_EQ(kafkaProperties(security), (Properties{{"security.protocol", "SASL_SSL"},
                                                   {"sasl.mechanisms", "PLAIN"},
                                                   {"sasl.username", "u"},
                                                   {"sasl.password", "p"},
                                                   {"ssl.ca.pem", "CA"},
                                                   {"ssl.certificate.pem", "CERT"},
                                                   {"ssl.key.pem", "KEY"}}));
}

TEST(KafkaConfigTest, TlsFilesFromAMountedSecret) {
  KafkaSecurity security;
  security.protocol = "SSL";
  security.caFile = "/tls/ca.crt";
  security.certificateFile = "/tls/tls.crt";
  security.keyFile = "/tls/tls.key";
  security.keyPassword = "k";
  EXPECT_EQ(kafkaProperties(security), (Properties{{"security.protocol", "SSL"},
                                                   {"ssl.ca.location", "/tls/ca.crt"},
                                                   {"ssl.certificate.location", "/tls/tls.crt"},
                                                   {"ssl.key.location", "/tls/tls.key"},
                                                   {"ssl.key.password", "k"}}));
}

TEST(KafkaConfigTest, ASecretsKeysFillTheirSecurityFields) {
  KafkaSecurity security;
  for (const char* key : {"username", "password", "ca.crt", "tls.crt", "tls.key"}) {
    EXPECT_TRUE(setSecretValue(security, key, std::string("v-") + key)) << key;
  }
  EXPECT_FALSE(setSecretValue(security, "token", "t"));
  EXPECT_EQ(security.saslUsername, "v-username");
  EXPECT_EQ(security.saslPassword, "v-password");
  EXPECT_EQ(security.caPem, "v-ca.crt");
  EXPECT_EQ(security.certificatePem, "v-tls.crt");
  EXPECT_EQ(security.keyPem, "v-tls.key");
}

}  // namespace
}  // namespace sluice::clients
