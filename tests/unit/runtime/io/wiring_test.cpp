// Wiring of connection settings: the RabbitMQ URL the runtime connects with
// (credentials from the environment, percent-encoded), Kafka credentials from
// the variables a Trigger's Secret references become, and the per-trigger
// delivery options.
#include "runtime/control/wiring.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/clock.h"
#include "runtime/config/config_parser.h"
#include "runtime/metrics/runtime_metrics.h"
#include "spec/runtime_config_render.h"

namespace sluice::runtime {
namespace {

TEST(WiringTest, AmqpUrlTakesTheWholeUrlFromUrlEnv) {
  setenv("SLUICE_TEST_AMQP_URL", "amqp://u:p@127.0.0.1:5672/vh", 1);
  config::AmqpConnectionConfig connection;
  connection.urlEnv = "SLUICE_TEST_AMQP_URL";
  auto url = amqpUrl(connection, "trigger \"t\".rabbitmq");
  ASSERT_TRUE(url.isOk()) << url.status().toString();
  EXPECT_EQ(*url, "amqp://u:p@127.0.0.1:5672/vh");
}

TEST(WiringTest, AmqpUrlAddsPercentEncodedCredentialsFromTheEnvironment) {
  setenv("SLUICE_TEST_AMQP_USER", "svc user", 1);
  setenv("SLUICE_TEST_AMQP_PASS", "p@ss:w/rd%", 1);
  config::AmqpConnectionConfig connection;
  connection.url = "amqp://127.0.0.1:5672/%2F";
  connection.usernameEnv = "SLUICE_TEST_AMQP_USER";
  connection.passwordEnv = "SLUICE_TEST_AMQP_PASS";
  auto url = amqpUrl(connection, "w");
  ASSERT_TRUE(url.isOk());
  EXPECT_EQ(*url, "amqp://svc%20user:p%40ss%3Aw%2Frd%25@127.0.0.1:5672/%2F");

  // Credentials already in a urlEnv URL are replaced, not doubled.
  setenv("SLUICE_TEST_AMQP_URL", "amqp://old:old@127.0.0.1:5672", 1);
  connection.url.clear();
  connection.urlEnv = "SLUICE_TEST_AMQP_URL";
  url = amqpUrl(connection, "w");
  ASSERT_TRUE(url.isOk());
  EXPECT_EQ(*url, "amqp://svc%20user:p%40ss%3Aw%2Frd%25@127.0.0.1:5672");
}

TEST(WiringTest, AmqpUrlNamesTheMissingVariable) {
  unsetenv("SLUICE_TEST_AMQP_MISSING");
  config::AmqpConnectionConfig connection;
  connection.url = "amqp://127.0.0.1:5672/";
  connection.passwordEnv = "SLUICE_TEST_AMQP_MISSING";
  auto url = amqpUrl(connection, "output \"approved\".rabbitmq");
  ASSERT_FALSE(url.isOk());
  EXPECT_EQ(url.status().message(),
            "output \"approved\".rabbitmq.passwordEnv: environment variable SLUICE_TEST_AMQP_MISSING is not set");
}

// amqps://: the CA and client certificate are PEM text in the environment (secretKeyRefs of the
// connection Secret); an unset variable is named with its field.
TEST(WiringTest, AmqpTlsReadsThePemTextFromTheEnvironment) {
  setenv("SLUICE_TEST_AMQP_CA", "-----BEGIN CERTIFICATE-----\nca\n", 1);
  setenv("SLUICE_TEST_AMQP_CERT", "cert", 1);
  setenv("SLUICE_TEST_AMQP_KEY", "key", 1);
  config::AmqpConnectionConfig connection;
  connection.url = "amqps://127.0.0.1:5671/";
  auto none = amqpTls(connection, "w");
  ASSERT_TRUE(none.isOk());
  EXPECT_EQ(*none, clients::AmqpTls{});
  connection.tlsCaEnv = "SLUICE_TEST_AMQP_CA";
  connection.tlsCertEnv = "SLUICE_TEST_AMQP_CERT";
  connection.tlsKeyEnv = "SLUICE_TEST_AMQP_KEY";
  auto tls = amqpTls(connection, "w");
  ASSERT_TRUE(tls.isOk());
  EXPECT_EQ(tls->caPem, "-----BEGIN CERTIFICATE-----\nca\n");
  EXPECT_EQ(tls->certificatePem, "cert");
  EXPECT_EQ(tls->keyPem, "key");
  unsetenv("SLUICE_TEST_AMQP_KEY");
  tls = amqpTls(connection, "trigger \"posts\".rabbitmq");
  ASSERT_FALSE(tls.isOk());
  EXPECT_EQ(tls.status().message(),
            "trigger \"posts\".rabbitmq.tlsKeyEnv: environment variable SLUICE_TEST_AMQP_KEY is not set");
}

// A Kafka Trigger's sasl.secretRef becomes SLUICE_SECRET_TRIGGER_<NAME>_<KEY>
// variables (secretKeyRefs in a pod, the environment of a local replica); when
// the password key's variable is missing, building the source fails naming
// the field and the variable, before any connection is tried.
TEST(WiringTest, KafkaTriggerWithoutItsSecretPasswordNamesTheMissingVariable) {
  nlohmann::json function = {
      {"apiVersion", "sluice.io/v1alpha1"},
      {"kind", "Function"},
      {"metadata", {{"name", "f"}, {"namespace", "etl"}}},
      {"spec", {{"runtime", "builtin"}, {"pipeline", {{{"mirror", nlohmann::json::object()}}}}}}};
  nlohmann::json trigger = {{"apiVersion", "sluice.io/v1alpha1"},
                            {"kind", "Trigger"},
                            {"metadata", {{"name", "orders"}, {"namespace", "etl"}}},
                            {"spec",
                             {{"functionRef", {{"name", "f"}}},
                              {"kafka",
                               {{"bootstrapServers", {"127.0.0.1:9093"}},
                                {"topics", {"orders"}},
                                {"consumerGroup", "g"},
                                {"sasl", {{"mechanism", "SCRAM-SHA-512"}, {"secretRef", {{"name", "kafka-creds"}}}}},
                                {"tls", {{"secretRef", {{"name", "kafka-ca"}}}}}}}}}};
  auto rendered = spec::renderRuntimeConfig(function, {trigger});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  EXPECT_EQ(rendered->secretEnvs, (std::vector<spec::SecretEnv>{
                                      {"SLUICE_SECRET_TRIGGER_ORDERS_USERNAME", "kafka-creds", "username", false},
                                      {"SLUICE_SECRET_TRIGGER_ORDERS_PASSWORD", "kafka-creds", "password", false}}));
  auto parsed = config::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  ASSERT_EQ(parsed->triggers.size(), 1u);

  setenv("SLUICE_SECRET_TRIGGER_ORDERS_USERNAME", "svc", 1);
  unsetenv("SLUICE_SECRET_TRIGGER_ORDERS_PASSWORD");
  RuntimeMetrics metrics;
  RealClock clock;
  auto source = buildSource(parsed->triggers[0], *parsed, metrics, clock);
  ASSERT_FALSE(source.isOk());
  EXPECT_EQ(source.status().message(),
            "trigger \"orders\".kafka.security.passwordEnv: environment variable SLUICE_SECRET_TRIGGER_ORDERS_PASSWORD "
            "is not set");

  setenv("SLUICE_SECRET_TRIGGER_ORDERS_PASSWORD", "pw", 1);
  EXPECT_TRUE(buildSource(parsed->triggers[0], *parsed, metrics, clock).isOk());
  unsetenv("SLUICE_SECRET_TRIGGER_ORDERS_USERNAME");
  unsetenv("SLUICE_SECRET_TRIGGER_ORDERS_PASSWORD");
}

TEST(WiringTest, RabbitMqTriggerMaxAttemptsAndPrefetchShapeDeliveryOptions) {
  config::FunctionConfig function;
  function.name = "moderation";
  function.retry.maxAttempts = 5;
  config::RabbitMqSourceConfig posts;
  posts.connection.url = "amqp://127.0.0.1:5672/";
  posts.queue = "posts";
  posts.prefetch = 20;
  posts.maxAttempts = 2;
  config::RabbitMqSourceConfig comments = posts;
  comments.queue = "comments";
  comments.maxAttempts.reset();
  function.triggers = {{"posts", posts, 0}, {"comments", comments, 0}};
  DeliveryOptions options = deliveryOptionsFor(function);
  EXPECT_EQ(options.maxAttempts, 5);
  EXPECT_EQ(options.maxAttemptsByTrigger, (std::map<std::string, int>{{"posts", 2}}));
  EXPECT_EQ(options.maxInFlight, 40);
}

TEST(WiringTest, ByteBudgetsComeFromTriggersOrAShareOfTheMemoryLimit) {
  config::FunctionConfig function;
  function.name = "big";
  function.memoryLimitMb = 1024;  // default budget: 256 MiB
  config::KafkaSourceConfig kafka;
  kafka.bootstrapServers = "127.0.0.1:9092";
  kafka.topics = {"t"};
  kafka.consumerGroup = "g";
  config::RabbitMqSourceConfig rabbit;
  rabbit.connection.url = "amqp://127.0.0.1:5672/";
  rabbit.queue = "q";
  config::TriggerConfig own{"own", kafka, 64 * kMebibyte};
  config::TriggerConfig shared{"shared", kafka, 0};
  config::TriggerConfig queue{"queue", rabbit, 0};
  function.triggers = {own, shared, queue};
  auto budgets = triggerByteBudgets(function);
  EXPECT_EQ(budgets, (std::map<std::string, int64_t>{
                         {"own", 64 * kMebibyte}, {"shared", 128 * kMebibyte}, {"queue", 128 * kMebibyte}}));
  // Kafka triggers keep a quarter of theirs for librdkafka's queue and the fetch under way.
  EXPECT_EQ(deliveryOptionsFor(function).maxInFlightBytes, 48 * kMebibyte + 96 * kMebibyte + 128 * kMebibyte);
}

// A Kafka trigger's maxInFlight above the default replay bound (500 finished,
// unconfirmed records) raises it, as it is what the user lets a replica hold
// uncommitted; below it, the default stays. Its batchSize caps a round's batch.
TEST(WiringTest, KafkaMaxInFlightRaisesTheUnconfirmedBound) {
  config::FunctionConfig function;
  function.name = "mirror";
  config::KafkaSourceConfig kafka;
  kafka.bootstrapServers = "127.0.0.1:9092";
  kafka.topics = {"t"};
  kafka.consumerGroup = "g";
  kafka.maxInFlight = 50000;
  config::TriggerConfig fast{"fast", kafka, 0};
  kafka.maxInFlight = 200;
  kafka.batchSize = 100;
  config::TriggerConfig careful{"careful", kafka, 0};
  function.triggers = {fast, careful};
  const KafkaSourceOptions defaults;
  EXPECT_EQ(defaults.maxUnconfirmed, 500);
  EXPECT_EQ(kafkaSourceOptions(fast, std::get<config::KafkaSourceConfig>(fast.source), function).maxUnconfirmed, 50000);
  KafkaSourceOptions carefulOptions =
      kafkaSourceOptions(careful, std::get<config::KafkaSourceConfig>(careful.source), function);
  EXPECT_EQ(carefulOptions.maxUnconfirmed, 500);
  EXPECT_EQ(carefulOptions.maxBatch, 100);
  EXPECT_EQ(carefulOptions.triggerName, "careful");
}

}  // namespace
}  // namespace sluice::runtime
