#include "api/v1alpha1/secret_keys.h"

#include <gtest/gtest.h>

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

// Each output kind's keys with the CRD's defaults, the dead letter's, and the env's
// non-optional secretKeyRefs, each named by its field.
TEST(SecretKeysTest, AFunctionsOutputsDeadLetterAndEnvNameTheirKeys) {
  json spec = {
      {"outputs",
       json::array({{{"kafka",
                      {{"bootstrapServers", {"127.0.0.1:9092"}},
                       {"topic", "t"},
                       {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "k"}}}}}}}},
                    {{"rabbitmq", {{"connectionSecretRef", {{"name", "amqp"}, {"key", "uri"}}}, {"routingKey", "q"}}}},
                    {{"http", {{"url", "http://127.0.0.1/x"}, {"bearerTokenSecretRef", {{"name", "tok"}}}}}},
                    {{"dir", {{"path", "/tmp/x"}}}}})},
      {"deadLetter",
       {{"s3", {{"endpoint", "http://127.0.0.1:9000"}, {"bucket", "b"}, {"credentialsSecretRef", {{"name", "s3"}}}}}}},
      {"env", json::array({{{"name", "A"}, {"valueFrom", {{"secretKeyRef", {{"name", "app"}, {"key", "a"}}}}}},
                           {{"name", "B"},
                            {"valueFrom", {{"secretKeyRef", {{"name", "app"}, {"key", "b"}, {"optional", true}}}}}},
                           {{"name", "C"}, {"value", "c"}}})}};
  std::vector<SecretKey> expected = {
      {"k", "username", "spec.outputs[0].kafka.sasl.secretRef"},
      {"k", "password", "spec.outputs[0].kafka.sasl.secretRef"},
      {"amqp", "uri", "spec.outputs[1].rabbitmq.connectionSecretRef"},
      {"tok", "token", "spec.outputs[2].http.bearerTokenSecretRef"},
      {"s3", "accessKey", "spec.deadLetter.s3.credentialsSecretRef"},
      {"s3", "secretKey", "spec.deadLetter.s3.credentialsSecretRef"},
      {"app", "a", "spec.env[0].valueFrom.secretKeyRef"},
  };
  EXPECT_EQ(functionSecretKeys(spec), expected);
}

// amqps: an output's CA and client certificate keys are in its connection Secret too.
TEST(SecretKeysTest, ARabbitMqOutputsTlsKeysAreNamed) {
  json sink = {{"rabbitmq",
                {{"connectionSecretRef", {{"name", "amqp"}}},
                 {"routingKey", "q"},
                 {"tls", {{"caKey", "ca.crt"}, {"certKey", "tls.crt"}, {"keyKey", "tls.key"}}}}}};
  std::vector<SecretKey> expected = {{"amqp", "url", "spec.deadLetter.rabbitmq.connectionSecretRef"},
                                     {"amqp", "ca.crt", "spec.deadLetter.rabbitmq.tls.caKey"},
                                     {"amqp", "tls.crt", "spec.deadLetter.rabbitmq.tls.certKey"},
                                     {"amqp", "tls.key", "spec.deadLetter.rabbitmq.tls.keyKey"}};
  EXPECT_EQ(sinkSecretKeys(sink, "spec.deadLetter"), expected);
}

// A RabbitMQ mirror's management API URLs, by the key the reference names or the CRD's default.
TEST(SecretKeysTest, AMirrorsDefinitionsNameTheirManagementUrlKeys) {
  json spec = {{"pipeline", json::array({{{"mirror", nullptr}},
                                         {{"mirror",
                                           {{"definitions",
                                             {{"names", {"q"}},
                                              {"sourceManagementSecretRef", {{"name", "broker-a"}}},
                                              {"targetManagementSecretRef", {{"name", "b"}, {"key", "admin"}}}}}}}}})}};
  std::vector<SecretKey> expected = {
      {"broker-a", "managementUrl", "spec.pipeline[1].mirror.definitions.sourceManagementSecretRef"},
      {"b", "admin", "spec.pipeline[1].mirror.definitions.targetManagementSecretRef"}};
  EXPECT_EQ(functionSecretKeys(spec), expected);
}

TEST(SecretKeysTest, MalformedSpecsNameNoKeys) {
  EXPECT_TRUE(functionSecretKeys(json("x")).empty());
  EXPECT_TRUE(functionSecretKeys({{"outputs", "x"}, {"env", 3}}).empty());
  EXPECT_TRUE(sinkSecretKeys({{"kafka", {{"sasl", 1}}}}, "spec.deadLetter").empty());
}

TEST(SecretKeysTest, AKeyInDataOrStringDataIsThereElseItIsNamed) {
  SecretKey need{"tok", "token", "spec.outputs[0].http.bearerTokenSecretRef"};
  EXPECT_EQ(missingSecretKey({{"data", {{"token", "dA=="}}}}, "ns", need), "");
  EXPECT_EQ(missingSecretKey({{"stringData", {{"token", "t"}}}}, "ns", need), "");
  EXPECT_EQ(missingSecretKey({{"data", {{"other", "dA=="}}}}, "ns", need),
            "spec.outputs[0].http.bearerTokenSecretRef: Secret ns/tok has no key token");
}

}  // namespace
}  // namespace sluice::api::v1alpha1
