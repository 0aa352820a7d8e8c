// kafkaClientSettings: the one assembly of a Trigger's Kafka client settings,
// used by the operator's lag scaler and the gateway's invocation publisher.
#include "spec/kafka_client_settings.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::spec {
namespace {

using api::v1alpha1::KafkaSource;
using api::v1alpha1::SecretKey;

KafkaSource saslWithMutualTls() {
  KafkaSource kafka;
  kafka.bootstrapServers = {"a:9093", "b:9093"};
  kafka.topics = {"invocations"};
  kafka.sasl = KafkaSource::Sasl{"SCRAM-SHA-512", "kafka-user"};
  kafka.tls = KafkaSource::Tls{"kafka-tls", true};
  return kafka;
}

TEST(KafkaClientSettingsTest, JoinsServersAndFillsSecurityFromEverySecretKey) {
  std::vector<SecretKey> asked;
  auto settings = kafkaClientSettings(saslWithMutualTls(), "spec.http.async.kafka", [&asked](const SecretKey& need) {
    asked.push_back(need);
    return Result<std::string>(need.secret + ":" + need.key);
  });
  ASSERT_TRUE(settings.isOk()) << settings.status().message();
  EXPECT_EQ(settings->bootstrapServers, "a:9093,b:9093");
  const std::map<std::string, std::string> expected{
      {"security.protocol", "SASL_SSL"},        {"sasl.mechanisms", "SCRAM-SHA-512"},
      {"sasl.username", "kafka-user:username"}, {"sasl.password", "kafka-user:password"},
      {"ssl.ca.pem", "kafka-tls:ca.crt"},       {"ssl.certificate.pem", "kafka-tls:tls.crt"},
      {"ssl.key.pem", "kafka-tls:tls.key"}};
  EXPECT_EQ(settings->properties, expected);
  // Each key read once, named by the connection's own path.
  ASSERT_EQ(asked.size(), 5u);
  EXPECT_EQ(asked[0], (SecretKey{"kafka-user", "username", "spec.http.async.kafka.sasl.secretRef"}));
  EXPECT_EQ(asked[4], (SecretKey{"kafka-tls", "tls.key", "spec.http.async.kafka.tls.secretRef"}));
}

TEST(KafkaClientSettingsTest, PlaintextReadsNoSecret) {
  KafkaSource kafka;
  kafka.bootstrapServers = {"broker:9092"};
  int reads = 0;
  auto settings = kafkaClientSettings(kafka, "spec.kafka", [&reads](const SecretKey&) {
    ++reads;
    return Result<std::string>(std::string("unused"));
  });
  ASSERT_TRUE(settings.isOk());
  EXPECT_EQ(reads, 0);
  EXPECT_EQ(settings->bootstrapServers, "broker:9092");
  EXPECT_EQ(settings->properties, (std::map<std::string, std::string>{{"security.protocol", "PLAINTEXT"}}));
}

TEST(KafkaClientSettingsTest, ReturnsTheFirstSecretErrorAsTheReaderGaveIt) {
  int reads = 0;
  auto settings = kafkaClientSettings(saslWithMutualTls(), "spec.kafka", [&reads](const SecretKey& need) {
    ++reads;
    return Result<std::string>(
        Status(StatusCode::kNotFound, need.field + ": Secret ns/" + need.secret + " has no key " + need.key));
  });
  ASSERT_FALSE(settings.isOk());
  EXPECT_EQ(settings.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(settings.status().message(), "spec.kafka.sasl.secretRef: Secret ns/kafka-user has no key username");
  EXPECT_EQ(reads, 1);  // stops at the first failure
}

}  // namespace
}  // namespace sluice::spec
