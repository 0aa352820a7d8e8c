// The renderer's output is what the runtime parses: every test round-trips
// through runtime/config's parser, so the two formats cannot drift apart.
#include "spec/runtime_config_render.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/config/config_parser.h"

namespace sluice::spec {
namespace {

using nlohmann::json;
namespace rc = runtime::config;

json fromYaml(const std::string& yamlText) {
  // The tests write objects as JSON literals; this keeps them close to the CRD examples.
  return json::parse(yamlText);
}

const json kFunction = fromYaml(R"J({
  "apiVersion": "sluice.io/v1alpha1", "kind": "Function",
  "metadata": {"name": "clean-logs", "namespace": "etl", "uid": "u1"},
  "spec": {
    "runtime": "builtin",
    "timeoutSeconds": 12,
    "retry": {"maxAttempts": 4, "initialBackoff": "100ms", "maxBackoff": "5s", "multiplier": 3},
    "pipeline": [
      {"name": "unzip", "decompress": {"format": "gzip", "split": "lines"}},
      {"parse": {"format": "regex", "pattern": "(?P<level>[A-Z]+) (?P<msg>.*)"
}
},
      {"filter": {"expression": "level == \"ERROR\""}},
      {"mask": {"field": "msg", "pattern": "[0-9]{11}", "replacement": "***"}},
      {"route": {"field": "level", "routes": {"ERROR": "errors"}, "default": "lake"}}
    ],
    "outputs": [
      {"name": "lake", "s3": {"endpoint": "http://127.0.0.1:9000", "bucket": "lake", "prefix": "clean/",
                              "credentialsSecretRef": {"name": "s3-creds"}}},
      {"name": "errors", "kafka": {"bootstrapServers": ["127.0.0.1:9092", "127.0.0.1:9093"], "topic": "errors",
                                   "sasl": {"mechanism": "SCRAM-SHA-512", "secretRef": {"name": "kafka-creds"}},
                                   "tls": {"secretRef": {"name": "kafka-ca"}}}}
    ],
    "deadLetter": {
  "rabbitmq" : { "connectionSecretRef" : {"name" : "amqp"}, "routingKey" : "dead" }
}
}
})J");

json trigger(const std::string& name, const std::string& function, json spec) {
  spec["functionRef"] = {{"name", function}};
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Trigger"},
          {"metadata", {{"name", name}, {"namespace", "etl"}}},
          {"spec", spec}};
}

TEST(RuntimeConfigRenderTest, FullFunctionRoundTripsThroughTheRuntimeParser) {
  std::vector<json> triggers = {
      trigger("uploads", "clean-logs",
              {{"objectStore",
                {{"type", "s3"},
                 {"endpoint", "http://127.0.0.1:9000"},
                 {"bucket", "incoming"},
                 {"prefix", "logs/"},
                 {"credentialsSecretRef", {{"name", "s3-creds"}}},
                 {"afterProcessing", {{"action", "move"}, {"destinationPrefix", "done/"}}}}}}),
      trigger("raw", "clean-logs",
              {{"kafka",
                {{"bootstrapServers", {"127.0.0.1:9092"}},
                 {"topics", {"raw"}},
                 {"consumerGroup", "cleaner"},
                 {"initialOffset", "earliest"}}},
               {"delivery", {{"batchSize", 20}, {"maxInFlight", 400}}}}),
      trigger("posts", "clean-logs",
              {{"rabbitmq",
                {{"connectionSecretRef", {{"name", "amqp"}, {"key", "uri"}}}, {"queue", "posts"}, {"prefetch", 30}}}}),
      trigger("nightly", "clean-logs",
              {{"cron", {{"schedule", "0 0 * * *"}, {"timezone", "Asia/Shanghai"}, {"payload", "go"}}}}),
      trigger("load", "clean-logs",
              {{"prometheus", {{"serverAddress", "http://127.0.0.1:9090"}, {"query", "up"}, {"threshold", 1}}}}),
      trigger("someone-else", "other-function", {{"http", {{"path", "/x"}}}}),
  };
  auto rendered = renderRuntimeConfig(kFunction, triggers);
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString() << "\n" << rendered->config.dump(2);

  const rc::FunctionConfig& c = *parsed;
  EXPECT_EQ(c.name, "clean-logs");
  EXPECT_EQ(c.namespaceName, "etl");
  EXPECT_EQ(c.runtime, rc::RuntimeKind::kBuiltin);
  EXPECT_EQ(c.timeout, std::chrono::seconds(12));
  EXPECT_EQ(c.retry.maxAttempts, 4);
  EXPECT_EQ(c.retry.backoff.initialDelay, std::chrono::milliseconds(100));
  EXPECT_EQ(c.retry.backoff.maxDelay, std::chrono::milliseconds(5000));
  EXPECT_DOUBLE_EQ(c.retry.backoff.multiplier, 3.0);
  ASSERT_EQ(c.pipeline.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<rc::DecompressOperatorConfig>(c.pipeline[0].op));
  EXPECT_EQ(std::get<rc::RouteOperatorConfig>(c.pipeline[4].op).defaultOutput, "lake");

  ASSERT_EQ(c.outputs.size(), 2u);
  const auto& lake = std::get<rc::S3SinkConfig>(c.outputs[0].sink);
  EXPECT_EQ(lake.endpoint.bucket, "lake");
  EXPECT_EQ(lake.endpoint.accessKeyEnv, "SLUICE_SECRET_OUTPUT_LAKE_ACCESSKEY");
  const auto& errors = std::get<rc::KafkaSinkConfig>(c.outputs[1].sink);
  EXPECT_EQ(errors.bootstrapServers, "127.0.0.1:9092,127.0.0.1:9093");
  EXPECT_EQ(errors.security.protocol, "SASL_SSL");
  EXPECT_EQ(errors.security.saslMechanism, "SCRAM-SHA-512");
  EXPECT_EQ(errors.security.passwordEnv, "SLUICE_SECRET_OUTPUT_ERRORS_PASSWORD");
  EXPECT_EQ(errors.security.caFile, "/etc/sluice/tls/output-errors/ca.crt");
  ASSERT_TRUE(c.deadLetter.has_value());
  EXPECT_EQ(std::get<rc::RabbitMqSinkConfig>(c.deadLetter->sink).connection.urlEnv, "SLUICE_SECRET_DEADLETTER_URL");

  // Triggers of other functions and scaling-only triggers are not event sources.
  ASSERT_EQ(c.triggers.size(), 4u);
  const auto& store = std::get<rc::ObjectStoreSourceConfig>(c.triggers[0].source);
  EXPECT_EQ(store.bucket, "incoming");
  EXPECT_EQ(store.prefix, "logs/");
  EXPECT_EQ(store.afterProcessing, rc::AfterProcessing::kMove);
  EXPECT_EQ(store.moveToPrefix, "done/");
  const auto& kafka = std::get<rc::KafkaSourceConfig>(c.triggers[1].source);
  EXPECT_EQ(kafka.consumerGroup, "cleaner");
  EXPECT_EQ(kafka.initialOffset, "earliest");
  EXPECT_EQ(kafka.batchSize, 20);
  EXPECT_EQ(kafka.maxInFlight, 400);
  EXPECT_EQ(kafka.security.protocol, "PLAINTEXT");
  const auto& rabbit = std::get<rc::RabbitMqSourceConfig>(c.triggers[2].source);
  EXPECT_EQ(rabbit.connection.urlEnv, "SLUICE_SECRET_TRIGGER_POSTS_URI");
  EXPECT_EQ(rabbit.prefetch, 30);
  const auto& cron = std::get<rc::CronSourceConfig>(c.triggers[3].source);
  EXPECT_EQ(cron.timezone, "Asia/Shanghai");
  EXPECT_EQ(cron.payload, "go");
}

TEST(RuntimeConfigRenderTest, EverySecretKeyBecomesAnEnvVarOrVolumeAndNoValueIsInlined) {
  auto rendered = renderRuntimeConfig(kFunction, {});
  ASSERT_TRUE(rendered.isOk());
  std::vector<SecretEnv> expected = {
      {"SLUICE_SECRET_OUTPUT_LAKE_ACCESSKEY", "s3-creds", "accessKey", false},
      {"SLUICE_SECRET_OUTPUT_LAKE_SECRETKEY", "s3-creds", "secretKey", false},
      {"SLUICE_SECRET_OUTPUT_ERRORS_USERNAME", "kafka-creds", "username", false},
      {"SLUICE_SECRET_OUTPUT_ERRORS_PASSWORD", "kafka-creds", "password", false},
      {"SLUICE_SECRET_DEADLETTER_URL", "amqp", "url", false},
  };
  EXPECT_EQ(rendered->secretEnvs, expected);
  ASSERT_EQ(rendered->secretVolumes.size(), 1u);
  EXPECT_EQ(rendered->secretVolumes[0],
            (SecretVolume{"tls-output-errors", "kafka-ca", "/etc/sluice/tls/output-errors"}));
  EXPECT_EQ(rendered->config.dump().find("s3-creds"), std::string::npos) << "Secret names stay out of the file";
}

TEST(RuntimeConfigRenderTest, PythonFunctionGetsHandlerAndCodeDir) {
  json fn = {{"metadata", {{"name", "moderate"}, {"namespace", "social"}}},
             {"spec",
              {{"handler", "mod.check"},
               {"code", {{"inline", "def check(e, c): return e"}}},
               {"eventShape", "scf"},
               {"outputs", json::array({{{"name", "ok"}, {"dir", {{"path", "/tmp/ok"}}}}})}}}};
  auto rendered = renderRuntimeConfig(fn, {}, {.codeDir = "/srv/code"});
  ASSERT_TRUE(rendered.isOk());
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->runtime, rc::RuntimeKind::kPython311);
  EXPECT_EQ(parsed->handler, "mod.check");
  EXPECT_EQ(parsed->codeDir, "/srv/code");
  EXPECT_EQ(parsed->eventShape, rc::EventShape::kScf);
}

TEST(RuntimeConfigRenderTest, CompatMemoryLimitAndPlainEnvironmentReachTheRuntime) {
  json fn = json::parse(R"({"metadata": {"name": "probe"}, "spec": {
      "code": {"inline": "def main_handler(e, c): return e"}, "eventShape": "lambda",
      "compat": {"region": "eu-west-1", "accountId": "123456789012", "lambdaKafkaEventSource": "aws:kafka"},
      "resources": {"limits": {"memory": "1.5Gi"}},
      "env": [{"name": "MODE", "value": "strict"}, {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
      "outputs": [{"name": "ok", "dir": {"path": "/tmp/ok"}}]}})");
  auto rendered = renderRuntimeConfig(fn, {}, {.codeDir = "/srv/code"});
  ASSERT_TRUE(rendered.isOk());
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->compat.region, "eu-west-1");
  EXPECT_EQ(parsed->compat.accountId, "123456789012");
  EXPECT_EQ(parsed->compat.lambdaKafka, rc::LambdaKafkaForm::kMsk);
  EXPECT_EQ(parsed->memoryLimitMb, 1536);
  EXPECT_EQ(parsed->environment, (std::map<std::string, std::string>{{"MODE", "strict"}}))
      << "secret-backed variables stay out of the file";
  for (const auto& [quantity, mebibytes] : std::vector<std::pair<json, int64_t>>{
           {"256Mi", 256}, {"1G", 953}, {"134217728", 128}, {"5e8", 476}, {json(268435456), 256}}) {
    fn["spec"]["resources"]["limits"]["memory"] = quantity;
    EXPECT_EQ(renderRuntimeConfig(fn, {}, {.codeDir = "/c"})->config["memoryLimitMb"], mebibytes) << quantity;
  }
}

TEST(RuntimeConfigRenderTest, UnnamedOutputsGetTheirIndexAsNameAndParse) {
  // The CRD makes output names optional; the runtime's parser requires them.
  json fn = {{"metadata", {{"name", "clean"}}},
             {"spec",
              {{"runtime", "builtin"},
               {"pipeline", json::array({{{"mirror", json::object()}}})},
               {"outputs", json::array({{{"dir", {{"path", "/tmp/a"}}}}, {{"dir", {{"path", "/tmp/b"}}}}})}}}};
  auto rendered = renderRuntimeConfig(fn, {});
  ASSERT_TRUE(rendered.isOk());
  EXPECT_EQ(rendered->config["outputs"][0]["name"], "output0");
  EXPECT_EQ(rendered->config["outputs"][1]["name"], "output1");
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->outputs.size(), 2u);
}

TEST(RuntimeConfigRenderTest, AnHttpTriggersAsyncQueueIsConsumedWithItsSecretAsEnv) {
  json fn = {{"metadata", {{"name", "clean-logs"}, {"namespace", "etl"}}},
             {"spec", {{"runtime", "builtin"}, {"pipeline", json::array({{{"mirror", json::object()}}})}}}};
  json http = {{"path", "/orders"},
               {"async", {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "orders-async"}}}}}};
  auto rendered = renderRuntimeConfig(fn, {trigger("orders", "clean-logs", {{"http", http}})});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  const json& async = rendered->config["triggers"][0]["http"]["async"]["rabbitmq"];
  EXPECT_EQ(async["queue"], "orders-async");
  EXPECT_EQ(async["prefetch"], 10);
  EXPECT_EQ(async["urlEnv"], secretEnvName("trigger_orders", "url"));
  ASSERT_EQ(rendered->secretEnvs.size(), 1u);
  EXPECT_EQ(rendered->secretEnvs[0].secretName, "rabbit");
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& source = std::get<rc::HttpSourceConfig>(parsed->triggers[0].source);
  EXPECT_EQ(source.path, "/orders");
  ASSERT_TRUE(source.async.has_value());
  EXPECT_EQ(source.async->queue, "orders-async");
  EXPECT_EQ(source.async->connection.urlEnv, secretEnvName("trigger_orders", "url"));
}

// amqps://: the tls keys of the connection Secret reach the replica as environment variables
// (secretKeyRefs), for the trigger's queue and for an output alike.
TEST(RuntimeConfigRenderTest, RabbitMqTlsKeysBecomeSecretEnvsOfTheConnection) {
  json tls = {{"caKey", "ca.crt"}, {"certKey", "tls.crt"}, {"keyKey", "tls.key"}};
  json fn = {{"metadata", {{"name", "mover"}, {"namespace", "etl"}}},
             {"spec",
              {{"runtime", "builtin"},
               {"pipeline", json::array({{{"mirror", json::object()}}})},
               {"outputs", json::array({{{"name", "out"},
                                         {"rabbitmq",
                                          {{"connectionSecretRef", {{"name", "out-amqp"}}},
                                           {"routingKey", "moved"},
                                           {"tls", {{"caKey", "ca.pem"}}}}}}})}}}};
  auto rendered = renderRuntimeConfig(
      fn, {trigger("posts", "mover",
                   {{"rabbitmq", {{"connectionSecretRef", {{"name", "amqp"}}}, {"queue", "posts"}, {"tls", tls}}}})});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString() << "\n" << rendered->config.dump(2);
  const auto& source = std::get<rc::RabbitMqSourceConfig>(parsed->triggers[0].source);
  EXPECT_EQ(source.connection.tlsCaEnv, secretEnvName("trigger_posts", "ca.crt"));
  EXPECT_EQ(source.connection.tlsCertEnv, secretEnvName("trigger_posts", "tls.crt"));
  EXPECT_EQ(source.connection.tlsKeyEnv, secretEnvName("trigger_posts", "tls.key"));
  const auto& sink = std::get<rc::RabbitMqSinkConfig>(parsed->outputs[0].sink);
  EXPECT_FALSE(sink.connection.tlsCaEnv.empty());
  EXPECT_TRUE(sink.connection.tlsCertEnv.empty());
  std::vector<std::pair<std::string, std::string>> secretKeys;
  for (const SecretEnv& env : rendered->secretEnvs) {
    secretKeys.emplace_back(env.secretName, env.secretKey);
    EXPECT_FALSE(env.optional) << env.secretKey << ": a replica must not start without it";
  }
  std::sort(secretKeys.begin(), secretKeys.end());
  EXPECT_EQ(secretKeys, (std::vector<std::pair<std::string, std::string>>{{"amqp", "ca.crt"},
                                                                          {"amqp", "tls.crt"},
                                                                          {"amqp", "tls.key"},
                                                                          {"amqp", "url"},
                                                                          {"out-amqp", "ca.pem"},
                                                                          {"out-amqp", "url"}}));
}

TEST(RuntimeConfigRenderTest, AnHttpTriggersAsyncTopicIsConsumedFromTheEarliestWithItsSaslSecretAsEnv) {
  json fn = {{"metadata", {{"name", "clean-logs"}, {"namespace", "etl"}}},
             {"spec", {{"runtime", "builtin"}, {"pipeline", json::array({{{"mirror", json::object()}}})}}}};
  json http = {{"path", "/orders"},
               {"async",
                {{"kafka",
                  {{"bootstrapServers", {"k1:9092", "k2:9092"}},
                   {"topic", "orders-async"},
                   {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-user"}}}}}}}}}};
  auto rendered = renderRuntimeConfig(fn, {trigger("orders", "clean-logs", {{"http", http}})});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& source = std::get<rc::HttpSourceConfig>(parsed->triggers[0].source);
  EXPECT_FALSE(source.async.has_value());
  ASSERT_TRUE(source.asyncKafka.has_value());
  EXPECT_EQ(source.asyncKafka->bootstrapServers, "k1:9092,k2:9092");
  EXPECT_EQ(source.asyncKafka->topics, std::vector<std::string>{"orders-async"});
  EXPECT_EQ(source.asyncKafka->consumerGroup, "sluice-async-etl-orders");
  EXPECT_EQ(source.asyncKafka->initialOffset, "earliest");
  EXPECT_EQ(source.asyncKafka->security.protocol, "SASL_PLAINTEXT");
  EXPECT_EQ(source.asyncKafka->security.passwordEnv, secretEnvName("trigger_orders", "password"));
  ASSERT_EQ(rendered->secretEnvs.size(), 2u);
  EXPECT_EQ(rendered->secretEnvs[0].secretName, "kafka-user");
}

TEST(RuntimeConfigRenderTest, BadTagIsRefusedNamingTheTriggerAndField) {
  json t = trigger(
      "uploads", "clean-logs",
      {{"objectStore", {{"type", "dir"}, {"path", "/in"}, {"afterProcessing", {{"action", "tag"}, {"tag", "done"}}}}}});
  auto rendered = renderRuntimeConfig(kFunction, {t});
  ASSERT_FALSE(rendered.isOk());
  EXPECT_EQ(rendered.status().message(),
            "Trigger etl/uploads: spec.objectStore.afterProcessing.tag: must be key=value, got \"done\"");
}

TEST(RuntimeConfigRenderTest, DeliveryMaxInFlightBytesReachesTheTrigger) {
  json fn = json::parse(R"({"metadata": {"name": "big"}, "spec": {
      "code": {"inline": "def main_handler(e, c): return e"},
      "outputs": [{"name": "ok", "dir": {"path": "/tmp/ok"}}]}})");
  std::vector<json> triggers = {trigger("large", "big",
                                        {{"kafka",
                                          {{"bootstrapServers", json::array({"127.0.0.1:9092"})},
                                           {"topics", json::array({"t"})},
                                           {"consumerGroup", "g"}}},
                                         {"delivery", {{"maxInFlightBytes", 67108864}}}}),
                                trigger("plain", "big", {{"http", {{"path", "/x"}}}})};
  auto rendered = renderRuntimeConfig(fn, triggers, {.codeDir = "/c"});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  ASSERT_EQ(parsed->triggers.size(), 2u);
  EXPECT_EQ(parsed->triggers[0].maxInFlightBytes, 67108864);
  EXPECT_EQ(parsed->triggers[1].maxInFlightBytes, 0) << "unset: sized by the runtime";
}

TEST(RuntimeConfigRenderTest, RabbitMqExchangeAndRoutingKeysReachTheRuntime) {
  auto spec = [](json extra) {
    json rabbit = {{"connectionSecretRef", {{"name", "amqp"}}}, {"queue", "orders"}};
    rabbit.update(extra);
    return json{{"rabbitmq", rabbit}};
  };
  std::vector<json> triggers = {
      trigger("bound", "clean-logs", spec({{"exchange", "shop"}, {"routingKeys", {"orders.created", "orders.*"}}})),
      trigger("plain", "clean-logs", spec(json::object()))};
  auto rendered = renderRuntimeConfig(kFunction, triggers);
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& bound = std::get<rc::RabbitMqSourceConfig>(parsed->triggers[0].source);
  EXPECT_EQ(bound.exchange, "shop");
  EXPECT_EQ(bound.routingKeys, (std::vector<std::string>{"orders.created", "orders.*"}));
  // The management URL lets the replica remove bindings whose key left routingKeys; the key is optional.
  EXPECT_EQ(bound.managementUrlEnv, "SLUICE_SECRET_TRIGGER_BOUND_MANAGEMENTURL");
  bool optional = false;
  for (const auto& env : rendered->secretEnvs) {
    if (env.envName == bound.managementUrlEnv) optional = env.secretName == "amqp" && env.optional;
  }
  EXPECT_TRUE(optional);
  const auto& plain = std::get<rc::RabbitMqSourceConfig>(parsed->triggers[1].source);
  EXPECT_EQ(plain.exchange, "") << "no exchange: the queue is consumed as it is, never declared";
  EXPECT_TRUE(plain.routingKeys.empty());
  EXPECT_EQ(plain.managementUrlEnv, "");
}

TEST(RuntimeConfigRenderTest, DeliveryOrderingReachesAKafkaTrigger) {
  auto kafka = [](const std::string& ordering) {
    json spec = {{"kafka",
                  {{"bootstrapServers", json::array({"127.0.0.1:9092"})},
                   {"topics", json::array({"t"})},
                   {"consumerGroup", "g"}}}};
    if (!ordering.empty()) spec["delivery"] = {{"ordering", ordering}};
    return spec;
  };
  std::vector<json> triggers = {trigger("free", "clean-logs", kafka("none")),
                                trigger("strict", "clean-logs", kafka("partition")),
                                trigger("default", "clean-logs", kafka(""))};
  auto rendered = renderRuntimeConfig(kFunction, triggers);
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_FALSE(std::get<rc::KafkaSourceConfig>(parsed->triggers[0].source).ordered);
  EXPECT_TRUE(std::get<rc::KafkaSourceConfig>(parsed->triggers[1].source).ordered);
  EXPECT_TRUE(std::get<rc::KafkaSourceConfig>(parsed->triggers[2].source).ordered);
}

TEST(RuntimeConfigRenderTest, DeliveryRetryOverridesTheFunctionsFieldByFieldAndDeadLetterHasItsOwnSecrets) {
  std::vector<json> triggers = {
      trigger(
          "once", "clean-logs",
          {{"http", {{"path", "/once"}}},
           {"delivery",
            {{"retry", {{"maxAttempts", 1}, {"initialBackoff", "1s"}}},
             {"deadLetter", {{"rabbitmq", {{"connectionSecretRef", {{"name", "dlq-amqp"}}}, {"routingKey", "q"}}}}}}}}),
      trigger("inherits", "clean-logs", {{"http", {{"path", "/inherits"}}}})};
  auto rendered = renderRuntimeConfig(kFunction, triggers);
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& once = parsed->triggers[0];
  ASSERT_TRUE(once.retry.has_value());
  EXPECT_EQ(once.retry->maxAttempts, 1);
  EXPECT_EQ(once.retry->backoff.initialDelay, std::chrono::seconds(1));
  EXPECT_EQ(once.retry->backoff.maxDelay, std::chrono::seconds(5)) << "the Function's maxBackoff";
  EXPECT_DOUBLE_EQ(once.retry->backoff.multiplier, 3.0) << "the Function's multiplier";
  ASSERT_TRUE(once.deadLetter.has_value());
  const auto& sink = std::get<rc::RabbitMqSinkConfig>(once.deadLetter->sink);
  EXPECT_EQ(sink.routingKey, "q");
  EXPECT_EQ(sink.connection.urlEnv, "SLUICE_SECRET_TRIGGER_ONCE_DEADLETTER_URL");
  bool found = false;
  for (const auto& env : rendered->secretEnvs) {
    if (env.envName == sink.connection.urlEnv) found = env.secretName == "dlq-amqp" && env.secretKey == "url";
  }
  EXPECT_TRUE(found) << "the dead letter's Secret key becomes its own variable";
  EXPECT_FALSE(parsed->triggers[1].retry.has_value()) << "no delivery.retry: the Function's retry";
  EXPECT_FALSE(parsed->triggers[1].deadLetter.has_value());
}

// A RabbitMQ mirror as a user writes it in the CRD: the management API URLs
// only by Secret reference.
json rabbitMqMirror(const json& mirror) {
  return {{"metadata", {{"name", "dr"}, {"namespace", "etl"}}},
          {"spec",
           {{"runtime", "builtin"},
            {"pipeline", json::array({{{"name", "copy"}, {"mirror", mirror}}})},
            {"outputs",
             json::array({{{"rabbitmq", {{"connectionSecretRef", {{"name", "broker-b"}}}, {"exchange", "shop"}}}}})}}}};
}

TEST(RuntimeConfigRenderTest, MirrorDefinitionsTakeTheManagementUrlsFromSecretsAsEnvironmentVariables) {
  json mirror = json::parse(R"({"rename": "identity", "keepUserId": true, "definitions": {
      "names": ["orders", "^shop\\..*"], "interval": "5s", "prune": true,
      "sourceManagementSecretRef": {"name": "broker-a"},
      "targetManagementSecretRef": {"name": "broker-b", "key": "adminUrl"}}})");
  auto rendered = renderRuntimeConfig(
      rabbitMqMirror(mirror),
      {trigger("orders", "dr",
               {{"rabbitmq", {{"connectionSecretRef", {{"name", "broker-a"}}}, {"queue", "orders"}}}})});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  EXPECT_EQ(rendered->config["pipeline"], json::parse(R"([{"mirror": {"rename": "identity", "keepUserId": true,
      "definitions": {"names": ["orders", "^shop\\..*"], "interval": "5s", "prune": true,
        "sourceManagementUrlEnv": "SLUICE_SECRET_PIPELINE0_MIRROR_SOURCE_MANAGEMENTURL",
        "targetManagementUrlEnv": "SLUICE_SECRET_PIPELINE0_MIRROR_TARGET_ADMINURL"}}}])"));
  const std::vector<SecretEnv> expected = {
      {"SLUICE_SECRET_PIPELINE0_MIRROR_SOURCE_MANAGEMENTURL", "broker-a", "managementUrl", false},
      {"SLUICE_SECRET_PIPELINE0_MIRROR_TARGET_ADMINURL", "broker-b", "adminUrl", false}};
  for (const SecretEnv& env : expected) {
    EXPECT_NE(std::find(rendered->secretEnvs.begin(), rendered->secretEnvs.end(), env), rendered->secretEnvs.end())
        << env.envName;
  }
  // No URL, user or password reaches the file the replica reads.
  EXPECT_EQ(rendered->config.dump().find("http://"), std::string::npos);
  auto parsed = rc::parseFunctionConfig(rendered->config.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& op = std::get<rc::MirrorOperatorConfig>(parsed->pipeline[0].op);
  EXPECT_TRUE(op.keepUserId);
  ASSERT_TRUE(op.definitions.has_value());
  EXPECT_EQ(op.definitions->names, (std::vector<std::string>{"orders", "^shop\\..*"}));
  EXPECT_EQ(op.definitions->interval, std::chrono::seconds(5));
  EXPECT_TRUE(op.definitions->prune);
  EXPECT_EQ(op.definitions->sourceManagementUrlEnv, "SLUICE_SECRET_PIPELINE0_MIRROR_SOURCE_MANAGEMENTURL");
}

TEST(RuntimeConfigRenderTest, AMirrorKeepingUserIdsIsRefusedWhenAKafkaTriggerFeedsIt) {
  json kafka = {{"kafka", {{"bootstrapServers", {"k:9092"}}, {"topics", {"orders"}}, {"consumerGroup", "dr"}}}};
  auto rendered = renderRuntimeConfig(rabbitMqMirror({{"keepUserId", true}}), {trigger("orders", "dr", kafka)});
  ASSERT_FALSE(rendered.isOk());
  EXPECT_EQ(rendered.status().message(),
            "Function etl/dr: spec.pipeline[0].mirror.keepUserId: Invalid value: true: only a RabbitMQ mirror keeps "
            "the user id (Trigger orders is kafka)");
  // A Trigger naming another Function is not this mirror's source.
  EXPECT_TRUE(renderRuntimeConfig(rabbitMqMirror({{"keepUserId", true}}), {trigger("orders", "other", kafka)}).isOk());
}

}  // namespace
}  // namespace sluice::spec
