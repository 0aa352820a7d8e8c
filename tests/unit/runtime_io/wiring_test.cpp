// Wiring of RabbitMQ connection settings: the URL the runtime connects with
// (credentials from the environment, percent-encoded) and the per-trigger
// delivery options.
#include "runtime/control/wiring.h"

#include <gtest/gtest.h>

#include <cstdlib>

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
  function.triggers = {{"posts", posts}, {"comments", comments}};
  DeliveryOptions options = deliveryOptionsFor(function);
  EXPECT_EQ(options.maxAttempts, 5);
  EXPECT_EQ(options.maxAttemptsByTrigger, (std::map<std::string, int>{{"posts", 2}}));
  EXPECT_EQ(options.maxInFlight, 40);
}

}  // namespace
}  // namespace sluice::runtime
