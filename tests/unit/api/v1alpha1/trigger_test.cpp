// Trigger objects into typed sources: the CRD's defaults, errors that name
// the field, and the rules derived from a Trigger (Secret keys, scaling target).
#include "api/v1alpha1/trigger.h"

#include <gtest/gtest.h>

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

json trigger(json spec) {
  spec["functionRef"] = {{"name", "orders"}};
  return {{"metadata", {{"name", "t"}, {"namespace", "etl"}, {"uid", "u1"}}}, {"spec", std::move(spec)}};
}

json kafka() { return {{"bootstrapServers", {"a:9092", "b:9092"}}, {"topics", {"in"}}, {"consumerGroup", "g"}}; }

json kafkaWith(const char* key, json value) {
  json k = kafka();
  k[key] = std::move(value);
  return k;
}

TEST(TriggerTest, KafkaGetsTheCrdDefaults) {
  auto t = Trigger::fromJson(trigger({{"kafka", kafka()}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->name, "t");
  EXPECT_EQ(t->ns, "etl");
  EXPECT_EQ(t->uid, "u1");
  EXPECT_EQ(t->functionName, "orders");
  EXPECT_EQ(t->sourceType, "kafka");
  ASSERT_TRUE(t->kafka);
  EXPECT_EQ(t->kafka->bootstrapServers, (std::vector<std::string>{"a:9092", "b:9092"}));
  EXPECT_EQ(t->kafka->lagThreshold, 10);
  EXPECT_EQ(t->kafka->activationLagThreshold, 0);
  EXPECT_EQ(t->kafka->initialOffset, "latest");
  EXPECT_EQ(t->kafka->securityProtocol(), "PLAINTEXT");
  EXPECT_TRUE(t->requiredSecretKeys().empty());
}

TEST(TriggerTest, KafkaSecurityGivesTheProtocolAndTheSecretKeys) {
  json k = kafka();
  k["sasl"] = {{"mechanism", "SCRAM-SHA-512"}, {"secretRef", {{"name", "user"}}}};
  k["tls"] = {{"secretRef", {{"name", "ca"}}}, {"mutual", true}};
  auto t = Trigger::fromJson(trigger({{"kafka", k}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->kafka->securityProtocol(), "SASL_SSL");
  EXPECT_EQ(t->requiredSecretKeys(), (std::vector<SecretKey>{{"user", "username", "spec.kafka.sasl.secretRef"},
                                                             {"user", "password", "spec.kafka.sasl.secretRef"},
                                                             {"ca", "ca.crt", "spec.kafka.tls.secretRef"},
                                                             {"ca", "tls.crt", "spec.kafka.tls.secretRef"},
                                                             {"ca", "tls.key", "spec.kafka.tls.secretRef"}}));
  k.erase("sasl");
  k["tls"] = json::object();  // TLS with the system's CAs: no Secret
  t = Trigger::fromJson(trigger({{"kafka", k}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->kafka->securityProtocol(), "SSL");
  EXPECT_TRUE(t->requiredSecretKeys().empty());
}

TEST(TriggerTest, HttpAsyncOnKafkaIsReadAsAKafkaSourceFromTheEarliest) {
  json async = {{"kafka",
                 {{"bootstrapServers", {"a:9092"}},
                  {"topic", "orders-async"},
                  {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "user"}}}}}}}};
  auto t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", async}}}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_FALSE(t->httpAsync);
  ASSERT_TRUE(t->httpAsyncKafka);
  EXPECT_EQ(t->httpAsyncKafka->topics, std::vector<std::string>{"orders-async"});
  EXPECT_EQ(t->httpAsyncKafka->consumerGroup, "sluice-async-etl-t");
  EXPECT_EQ(t->httpAsyncKafka->initialOffset, "earliest");
  EXPECT_EQ(t->httpAsyncKafka->securityProtocol(), "SASL_PLAINTEXT");
  EXPECT_EQ(t->requiredSecretKeys(),
            (std::vector<SecretKey>{{"user", "username", "spec.http.async.kafka.sasl.secretRef"},
                                    {"user", "password", "spec.http.async.kafka.sasl.secretRef"}}));
  async["kafka"]["consumerGroup"] = "mine";
  t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", async}}}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->httpAsyncKafka->consumerGroup, "mine");
}

// The operator measures an http Trigger's asynchronous backlog with spec.http.async's credentials, so
// those Secrets are the scaler's too (they must opt in, and the Trigger's status follows them).
TEST(TriggerTest, HttpAsyncSecretsAreScalerSecrets) {
  json async = {{"kafka",
                 {{"bootstrapServers", {"a:9092"}},
                  {"topic", "orders-async"},
                  {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "user"}}}}},
                  {"tls", {{"secretRef", {{"name", "ca"}}}}}}}};
  auto t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", async}}}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->scalerSecrets(), (std::vector<SecretKey>{{"user", "", "spec.http.async.kafka.sasl.secretRef"},
                                                        {"ca", "", "spec.http.async.kafka.tls.secretRef"}}));
  async = {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "q"}}}};
  t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", async}}}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_EQ(t->scalerSecrets(),
            (std::vector<SecretKey>{{"rabbit", "", "spec.http.async.rabbitmq.connectionSecretRef"}}));
  // Without spec.http.async the http scaler reads no Secret.
  t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}}}}));
  ASSERT_TRUE(t.isOk()) << t.status().toString();
  EXPECT_TRUE(t->scalerSecrets().empty());
}

TEST(TriggerTest, HttpAsyncTakesExactlyOneBroker) {
  const std::string expected = "spec.http.async: set exactly one of rabbitmq or kafka (where invocations are kept)";
  json both = {{"rabbitmq", {{"connectionSecretRef", {{"name", "r"}}}, {"queue", "q"}}},
               {"kafka", {{"bootstrapServers", {"a:9092"}}, {"topic", "t"}}}};
  auto t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", both}}}}));
  ASSERT_FALSE(t.isOk());
  EXPECT_EQ(t.status().message(), expected);
  t = Trigger::fromJson(trigger({{"http", {{"path", "/x"}, {"async", json::object()}}}}));
  ASSERT_FALSE(t.isOk());
  EXPECT_EQ(t.status().message(), expected);
  t = Trigger::fromJson(
      trigger({{"http", {{"path", "/x"}, {"async", {{"kafka", {{"bootstrapServers", {"a:9092"}}}}}}}}}));
  ASSERT_FALSE(t.isOk());
  EXPECT_EQ(t.status().message(), "spec.http.async.kafka.topic: missing");
}

TEST(TriggerTest, RabbitMqAndObjectStoreDefaults) {
  auto r = Trigger::fromJson(trigger({{"rabbitmq", {{"queue", "jobs"}, {"connectionSecretRef", {{"name", "s"}}}}}}));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->rabbitmq->urlKey, "url");
  EXPECT_EQ(r->rabbitmq->managementUrlKey, "managementUrl");
  EXPECT_EQ(r->rabbitmq->depthMetric, "messages");
  EXPECT_EQ(r->rabbitmq->queueLength, 20);
  auto o = Trigger::fromJson(trigger({{"objectStore", {{"type", "dir"}, {"path", "/in"}}}}));
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->objectStore->targetObjectCount, 5);
  EXPECT_EQ(o->objectStore->maxObjectsToScan, 1000);
  EXPECT_EQ(o->objectStore->region, "us-east-1");
}

// An amqps:// connection's CA and client certificate are keys of the connection Secret: each one is
// needed (SecretKeyMissing names it), in the order url, caKey, certKey, keyKey.
TEST(TriggerTest, RabbitMqTlsKeysAreSecretKeysOfTheConnectionSecret) {
  json tls = {{"caKey", "ca.pem"}, {"certKey", "client.pem"}, {"keyKey", "client.key"}};
  auto r = Trigger::fromJson(
      trigger({{"rabbitmq", {{"queue", "jobs"}, {"connectionSecretRef", {{"name", "amqp"}}}, {"tls", tls}}}}));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_TRUE(r->rabbitmq->tls.has_value());
  EXPECT_EQ(r->rabbitmq->tls->caKey, "ca.pem");
  EXPECT_EQ(r->requiredSecretKeys(), (std::vector<SecretKey>{{"amqp", "url", "spec.rabbitmq.connectionSecretRef"},
                                                             {"amqp", "ca.pem", "spec.rabbitmq.tls.caKey"},
                                                             {"amqp", "client.pem", "spec.rabbitmq.tls.certKey"},
                                                             {"amqp", "client.key", "spec.rabbitmq.tls.keyKey"}}));
  auto async = Trigger::fromJson(trigger({{"http",
                                           {{"path", "/x"},
                                            {"async",
                                             {{"rabbitmq",
                                               {{"queue", "q"},
                                                {"connectionSecretRef", {{"name", "a"}, {"key", "u"}}},
                                                {"tls", {{"caKey", "ca"}}}}}}}}}}));
  ASSERT_TRUE(async.isOk()) << async.status().toString();
  EXPECT_EQ(async->requiredSecretKeys(),
            (std::vector<SecretKey>{{"a", "u", "spec.http.async.rabbitmq.connectionSecretRef"},
                                    {"a", "ca", "spec.http.async.rabbitmq.tls.caKey"}}));
  auto plain =
      Trigger::fromJson(trigger({{"rabbitmq", {{"queue", "jobs"}, {"connectionSecretRef", {{"name", "s"}}}}}}));
  ASSERT_TRUE(plain.isOk());
  EXPECT_FALSE(plain->rabbitmq->tls.has_value());
}

TEST(TriggerTest, ErrorsNameTheSourceAndTheField) {
  struct Case {
    json spec;
    const char* message;
  };
  json noGroup = kafka();
  noGroup.erase("consumerGroup");
  json badTopics = kafka();
  badTopics["topics"] = {"in", 7};
  for (const Case& c : {
           Case{{{"kafka", noGroup}}, "spec.kafka: spec.kafka.consumerGroup: missing"},
           Case{{{"kafka", badTopics}}, "spec.kafka: spec.kafka.topics[1]: 7 is not a string"},
           Case{{{"kafka", kafkaWith("lagThreshold", 0)}}, "spec.kafka.lagThreshold: 0 must be at least 1"},
           Case{{{"kafka", kafkaWith("initialOffset", "middle")}},
                "spec.kafka.initialOffset: \"middle\" is not earliest or latest"},
           Case{{{"rabbitmq", {{"queue", "q"}}}}, "spec.rabbitmq: spec.rabbitmq.connectionSecretRef: missing"},
           Case{{{"rabbitmq", {{"queue", "q"}, {"connectionSecretRef", {{"name", "s"}}}, {"depthMetric", "all"}}}},
                "spec.rabbitmq.depthMetric: \"all\" is not messages or messagesReady"},
           Case{{{"rabbitmq",
                  {{"queue", "q"}, {"connectionSecretRef", {{"name", "s"}}}, {"tls", {{"certKey", "tls.crt"}}}}}},
                "spec.rabbitmq: spec.rabbitmq.tls.keyKey: is required with certKey (a client certificate goes with its "
                "key)"},
           Case{{{"rabbitmq", {{"queue", "q"}, {"connectionSecretRef", {{"name", "s"}}}, {"tls", {{"caKey", 1}}}}}},
                "spec.rabbitmq: spec.rabbitmq.tls.caKey: 1 is not a string"},
           Case{{{"objectStore", {{"type", "s3"}, {"bucket", "b"}}}},
                "spec.objectStore: spec.objectStore.endpoint: missing"},
           Case{{{"objectStore", {{"type", "ftp"}}}}, "spec.objectStore.type: \"ftp\" is not s3, dir or webhdfs"},
           Case{{{"prometheus", {{"serverAddress", "http://p"}, {"query", "up"}, {"threshold", 0}}}},
                "spec.prometheus.threshold: 0 must be greater than 0"},
           Case{{{"cron", {{"timezone", "UTC"}}}}, "spec.cron: spec.cron.schedule: missing"},
           Case{json::object(), "spec: no source (kafka, rabbitmq, cron, http, objectStore or prometheus)"},
       }) {
    auto t = Trigger::fromJson(trigger(c.spec));
    ASSERT_FALSE(t.isOk()) << c.spec.dump();
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), c.message) << c.spec.dump();
  }
}

TEST(TriggerTest, LenientRulesReadMalformedSpecs) {
  const json spec = {{"kafka", {{"sasl", {{"secretRef", {{"name", "user"}}}}}}},
                     {"other", {{"credentialsSecretRef", {{"name", "creds"}}}, {"secretRef", {{"name", "user"}}}}}};
  EXPECT_EQ(sourceTypeOf(spec), "kafka");
  EXPECT_EQ(sourceTypeOf(json::array()), "");
  EXPECT_EQ(referencedSecrets(spec), (std::vector<std::string>{"user", "creds"}));
  EXPECT_TRUE(requiredSecretKeys(spec).empty()) << "no bootstrapServers: the spec does not parse";
}

TEST(TriggerTest, ScalingTargetReadsOnlyTheTargetFields) {
  auto kafkaTarget = scalingTargetOf({{"kafka", {{"lagThreshold", 100}, {"activationLagThreshold", 3}}}});
  ASSERT_TRUE(kafkaTarget.isOk()) << kafkaTarget.status().toString();
  ASSERT_TRUE(*kafkaTarget);
  EXPECT_EQ((*kafkaTarget)->perReplica, 100);
  EXPECT_EQ((*kafkaTarget)->activation, 3);
  auto store = scalingTargetOf({{"objectStore", {{"activationObjectCount", 2}}}});
  ASSERT_TRUE(store.isOk());
  EXPECT_EQ((*store)->perReplica, 5);
  EXPECT_EQ((*store)->activation, 2);
  auto cron = scalingTargetOf({{"cron", {{"schedule", "@hourly"}}}});
  ASSERT_TRUE(cron.isOk());
  EXPECT_FALSE(*cron);
  EXPECT_EQ(scalingTargetOf({{"rabbitmq", {{"queueLength", "many"}}}}).status().message(),
            "spec.rabbitmq.queueLength: \"many\" is not an integer");
}

}  // namespace
}  // namespace sluice::api::v1alpha1
