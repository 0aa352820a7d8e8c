// The RabbitMQ mirror's pure parts: where a message goes for each rename,
// which properties it is published with (user-id rule, loop prevention's
// header), which definitions are copied, and a probation copy that comes back
// with the message's properties as first published.
#include <amqp.h>
#include <amqp_framing.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "clients/amqp_properties.h"
#include "runtime/sinks/rabbitmq_definitions_sync.h"
#include "runtime/sinks/rabbitmq_sink.h"
#include "runtime/sources/amqp_headers.h"

namespace sluice::runtime {
namespace {

using nlohmann::json;
using Rename = RabbitMqMirrorOptions::Rename;

TEST(RabbitMqMirrorTest, RenameChoosesTheExchangeAndRoutingKey) {
  using Target = std::pair<std::string, std::string>;
  RabbitMqMirrorOptions mirror;
  EXPECT_EQ(mirrorTarget(mirror, "out-x", "", "shop", "order.new"), Target("out-x", "order.new"));
  EXPECT_EQ(mirrorTarget(mirror, "", "fixed", "shop", "order.new"), Target("", "fixed"));
  mirror.rename = Rename::kIdentity;
  EXPECT_EQ(mirrorTarget(mirror, "out-x", "fixed", "shop", "order.new"), Target("shop", "order.new"));
  EXPECT_EQ(mirrorTarget(mirror, "out-x", "fixed", "", "orders"), Target("", "orders"));
  mirror.rename = Rename::kPrefix;
  mirror.prefix = "A.";
  EXPECT_EQ(mirrorTarget(mirror, "out-x", "", "shop", "order.new"), Target("A.shop", "order.new"));
  // The default exchange routes by queue name: the queue is the one renamed.
  EXPECT_EQ(mirrorTarget(mirror, "out-x", "", "", "orders"), Target("", "A.orders"));
}

AmqpProperties withUser(const std::string& user) {
  AmqpProperties p;
  p.flags = AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
  p.userId = user;
  p.messageId = "m";
  return p;
}

TEST(RabbitMqMirrorTest, UserIdIsKeptOnlyWhereTheTargetBrokerAcceptsIt) {
  RabbitMqMirrorOptions mirror;
  mirror.outputUser = "mirror";
  EXPECT_EQ(*mirroredProperties(mirror, withUser("mirror"), std::nullopt), withUser("mirror"));
  AmqpProperties dropped = *mirroredProperties(mirror, withUser("alice"), std::nullopt);
  EXPECT_FALSE(dropped.has(AMQP_BASIC_USER_ID_FLAG));
  EXPECT_EQ(dropped.messageId, "m");
  mirror.keepUserId = true;  // an impersonator may publish any user-id
  EXPECT_EQ(*mirroredProperties(mirror, withUser("alice"), std::nullopt), withUser("alice"));
}

TEST(RabbitMqMirrorTest, LoopPreventionsOriginIsAddedOnceToTheTypedTable) {
  RabbitMqMirrorOptions mirror;
  AmqpProperties source;
  source.flags = AMQP_BASIC_HEADERS_FLAG;
  source.headersTable = *clients::editAmqpTable("", {}, {{"a", "1"}});
  AmqpProperties stamped = *mirroredProperties(mirror, source, std::string("A"));
  EXPECT_EQ(stamped.headersTable, *clients::editAmqpTable(source.headersTable, {}, {{"sluice-mirror-origin", "A"}}));
  // A message that already names its origin keeps it.
  EXPECT_EQ(*mirroredProperties(mirror, stamped, std::string("B")), stamped);
  AmqpProperties bare;
  AmqpProperties bareStamped = *mirroredProperties(mirror, bare, std::string("A"));
  EXPECT_TRUE(bareStamped.has(AMQP_BASIC_HEADERS_FLAG));
  EXPECT_EQ(clients::amqpTableString(bareStamped.headersTable, "sluice-mirror-origin"), "A");
}

json exported() {
  return json::parse(R"({
    "queues": [
      {"name": "orders", "vhost": "a", "durable": true, "auto_delete": false, "arguments": {"x-max-priority": 9, "x-queue-type": "classic"}},
      {"name": "orders.sluice-probation", "vhost": "a", "durable": true, "auto_delete": false, "arguments": {}},
      {"name": "audit", "vhost": "a", "durable": true, "auto_delete": false, "arguments": {}},
      {"name": "private", "vhost": "a", "durable": true, "auto_delete": false, "arguments": {}}],
    "exchanges": [
      {"name": "shop", "vhost": "a", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}},
      {"name": "amq.direct", "vhost": "a", "type": "direct", "durable": true, "auto_delete": false, "internal": false, "arguments": {}},
      {"name": "other", "vhost": "a", "type": "fanout", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}],
    "bindings": [
      {"source": "shop", "vhost": "a", "destination": "orders", "destination_type": "queue", "routing_key": "order.*", "arguments": {}},
      {"source": "shop", "vhost": "a", "destination": "private", "destination_type": "queue", "routing_key": "p", "arguments": {}},
      {"source": "other", "vhost": "a", "destination": "audit", "destination_type": "queue", "routing_key": "", "arguments": {}},
      {"source": "amq.direct", "vhost": "a", "destination": "audit", "destination_type": "queue", "routing_key": "x", "arguments": {}}]
  })");
}

TEST(RabbitMqMirrorTest, DefinitionsSelectedByNameAndPatternWithBindingsBetweenSelectedOnes) {
  DefinitionCounts counts;
  json body = selectDefinitions(exported(), {"shop", "^orders.*", "audit"}, "", &counts);
  EXPECT_EQ(counts.queues, 2U);  // orders, audit; never the probation queue
  EXPECT_EQ(counts.exchanges, 1U);
  EXPECT_EQ(counts.bindings, 1U);  // shop -> orders only: private, other and amq.* are not selected
  EXPECT_EQ(body["queues"][0], json::parse(R"({"name": "orders", "durable": true, "auto_delete": false,
                            "arguments": {"x-max-priority": 9, "x-queue-type": "classic"}})"));
  EXPECT_EQ(body["bindings"][0]["routing_key"], "order.*");
  EXPECT_FALSE(body["exchanges"][0].contains("vhost"));
}

TEST(RabbitMqMirrorTest, DefinitionsAreRenamedWithThePrefix) {
  json body = selectDefinitions(exported(), {"shop", "orders"}, "A.");
  EXPECT_EQ(body["queues"][0]["name"], "A.orders");
  EXPECT_EQ(body["exchanges"][0]["name"], "A.shop");
  EXPECT_EQ(body["bindings"][0]["source"], "A.shop");
  EXPECT_EQ(body["bindings"][0]["destination"], "A.orders");
}

TEST(RabbitMqMirrorTest, AProbationCopyComesBackWithThePropertiesAsFirstPublished) {
  AmqpDelivery original;
  original.exchange = "shop";
  original.routingKey = "order.new";
  original.properties.flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
  original.properties.userId = "alice";
  original.properties.messageId = "m-1";
  original.properties.headersTable = *clients::editAmqpTable("", {}, {{"tenant", "t1"}, {"x-delivery-count", "1"}});
  original.headers = {{"tenant", "t1"}, {"x-sluice-routing-key", "order.new"}, {"x-sluice-crashes", "2"}};

  auto copy = probationCopyProperties(original);
  ASSERT_TRUE(copy.isOk()) << copy.status().toString();
  // The replica's own user publishes the copy: no user-id; persistent.
  EXPECT_FALSE(copy->has(AMQP_BASIC_USER_ID_FLAG));
  EXPECT_EQ(copy->deliveryMode, 2);
  EXPECT_EQ(clients::amqpTableString(copy->headersTable, "x-sluice-user-id"), "alice");
  EXPECT_EQ(clients::amqpTableString(copy->headersTable, "x-sluice-crashes"), "2");
  EXPECT_EQ(clients::amqpTableString(copy->headersTable, "x-delivery-count"), "");

  AmqpDelivery got;  // as basic.get reads the copy from the probation queue
  got.properties = *copy;
  // Its text headers: every entry of the copy's table that is a string.
  got.headers = {{"tenant", "t1"},
                 {"x-sluice-routing-key", "order.new"},
                 {"x-sluice-crashes", "2"},
                 {"x-sluice-user-id", "alice"},
                 {"x-sluice-delivery-mode", "none"},
                 {"x-sluice-exchange", "shop"}};
  restoreProbationProperties(got);
  AmqpProperties expected = original.properties;
  expected.headersTable = *clients::editAmqpTable("", {}, {{"tenant", "t1"}});
  EXPECT_EQ(got.properties, expected);
  EXPECT_EQ(got.exchange, "shop");
  EXPECT_EQ(got.headers, (Headers{{"tenant", "t1"}, {"x-sluice-routing-key", "order.new"}, {"x-sluice-crashes", "2"}}));

  // A copy of that copy (a death charged, a requeue) carries each property header once.
  auto again = probationCopyProperties(got);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, *copy);
}

}  // namespace
}  // namespace sluice::runtime
