// A rabbitmq trigger with an exchange and routing keys (a Trigger's
// spec.rabbitmq.exchange / routingKeys), run by the sluice-runtime BINARY
// against the real RabbitMQ (RABBITMQ_AMQP_URL): the replica declares the
// missing queue and binds it before consuming, so a message published to the
// exchange with a matching key reaches the function and one with another key
// is not routed at all; adding a routing key makes that key's messages
// arrive, and removing one (given the management API) stops them; a missing exchange stops the replica with an error
// naming the field.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "amqp_test_util.h"
#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Bindings {
  std::string url = requiredEnv("RABBITMQ_AMQP_URL");
  std::string exchange = uniqueName("rt-shop");
  std::string queue = uniqueName("rt-orders");  // not declared by the test: the replica declares it
  std::string out = uniqueName("rt-orders-out");
  std::string dir = makeTempDir("rtbind");

  Bindings() {
    declareExchange(url, exchange, "topic");
    declareQueue(url, out);
  }
  ~Bindings() {
    for (const auto& q : {queue, out}) {
      try {
        deleteQueue(url, q);
      } catch (const std::exception&) {
      }
    }
    try {
      deleteExchange(url, exchange);
    } catch (const std::exception&) {
    }
    std::filesystem::remove_all(dir);
  }

  // A builtin function that tags each JSON message and writes it to `out`.
  // `prune`: with the management API URL, so bindings whose key left routingKeys are removed.
  std::string config(const std::string& bindTo, const std::vector<std::string>& routingKeys, bool prune = false) const {
    json trigger = {{"urlEnv", "RABBITMQ_AMQP_URL"}, {"queue", queue}, {"exchange", bindTo}};
    trigger["routingKeys"] = routingKeys;
    if (prune) trigger["managementUrlEnv"] = "RABBITMQ_HTTP_URL";
    json config = {
        {"name", "orders"},
        {"runtime", "builtin"},
        {"pipeline", json::array({{{"set", {{"fields", {{"seen", true}}}}}}})},
        {"outputs",
         json::array({{{"name", "out"}, {"rabbitmq", {{"urlEnv", "RABBITMQ_AMQP_URL"}, {"routingKey", out}}}}})},
        {"triggers", json::array({{{"name", "orders"}, {"rabbitmq", trigger}}})}};
    std::string path =
        dir + "/function-" + std::to_string(routingKeys.size()) + "-" + std::to_string(prune) + "-" + bindTo + ".json";
    writeFile(path, config.dump(2));
    return path;
  }
};

std::vector<AmqpMessage> order(const std::string& id) { return {{id, json{{"id", id}}.dump(), {}, false}}; }

std::vector<std::string> ids(const std::vector<AmqpMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(json::parse(m.body).at("id").get<std::string>());
  return out;
}

TEST(RuntimeBinaryRabbitMqBindingsTest, OnlyMatchingRoutingKeysArriveAndChangingTheKeysChangesThat) {
  Bindings b;
  {
    RuntimeProcess runtime;
    runtime.start(freeLoopbackPort(), {"--config", b.config(b.exchange, {"orders.created"})}, b.dir + "/run1.log");
    ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
    // Ready means the trigger connected: the queue exists and is bound.
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.created", order("c1")), 0u);
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.deleted", order("d1")), 1u)
        << "no binding for orders.deleted: the broker returns it unrouted";
    auto arrived = consumeQueue(b.url, b.out, 1, 2s, 60s);
    EXPECT_EQ(ids(arrived), std::vector<std::string>{"c1"});
    for (const auto& m : arrived) EXPECT_EQ(json::parse(m.body).value("seen", false), true);
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  }
  {
    // The same queue, now bound with orders.deleted too (declaring and binding again is harmless).
    RuntimeProcess runtime;
    runtime.start(freeLoopbackPort(), {"--config", b.config(b.exchange, {"orders.created", "orders.deleted"})},
                  b.dir + "/run2.log");
    ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.deleted", order("d2")), 0u);
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.created", order("c2")), 0u);
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.shipped", order("s2")), 1u);
    auto arrived = consumeQueue(b.url, b.out, 2, 2s, 60s);
    auto got = ids(arrived);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"c2", "d2"}));
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  }
  {
    // orders.created left routingKeys: with the management API the replica removes its binding.
    RuntimeProcess runtime;
    runtime.start(freeLoopbackPort(), {"--config", b.config(b.exchange, {"orders.deleted"}, /*prune=*/true)},
                  b.dir + "/run3.log");
    ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.created", order("c3")), 1u) << "its binding was removed";
    EXPECT_EQ(publishTo(b.url, b.exchange, "orders.deleted", order("d3")), 0u);
    EXPECT_EQ(ids(consumeQueue(b.url, b.out, 1, 2s, 60s)), std::vector<std::string>{"d3"});
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  }
  EXPECT_EQ(readyCount(b.url, b.queue), 0u) << "every routed message was consumed";
}

TEST(RuntimeBinaryRabbitMqBindingsTest, AMissingExchangeStopsTheReplicaNamingTheField) {
  Bindings b;
  const std::string missing = uniqueName("rt-no-such-exchange");
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", b.config(missing, {"orders.created"})}, b.dir + "/run.log");
  EXPECT_FALSE(runtime.waitReady(60s));
  EXPECT_NE(runtime.waitFor(60s), 0);
  EXPECT_NE(runtime.log().find("spec.rabbitmq.exchange: exchange \"" + missing + "\" does not exist"),
            std::string::npos)
      << runtime.log();
}

}  // namespace
}  // namespace sluice::testing
