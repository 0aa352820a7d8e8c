#include "runtime/config/config_parser.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace sluice::runtime::config {
namespace {

const char* kFullYaml = R"(
name: log-cleaner
namespace: team-a
runtime: python3.11
handler: index.main_handler
codeDir: /code
timeoutSeconds: 5
concurrency: 4
eventShape: scf
environment:
  MODE: "strict"
compat: {region: ap-chengdu, appId: "1253970026", uin: "100000000002", accountId: "123456789012",
         lambdaKafkaEventSource: "aws:kafka", mskClusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/x-1"}
memoryLimitMb: 256
retry:
  maxAttempts: 5
  backoff: {initialDelay: 100ms, maxDelay: 10s, multiplier: 3, jitter: 0.1}
outputs:
  - name: cleaned
    kafka: {bootstrapServers: "127.0.0.1:9092", topic: cleaned}
  - name: archive
    s3: {endpoint: "http://127.0.0.1:9000", bucket: arch, accessKeyEnv: S3_AK, secretKeyEnv: S3_SK}
deadLetter:
  kafka: {bootstrapServers: "127.0.0.1:9092", topic: dlq}
triggers:
  - name: logs
    kafka:
      bootstrapServers: 127.0.0.1:9092,127.0.0.1:9093
      topics: [raw-logs]
      consumerGroup: cleaner
      initialOffset: earliest
      batchSize: 10
      maxInFlight: 500
      security: {protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameEnv: KAFKA_USER, passwordEnv: KAFKA_PASS}
  - name: posts
    rabbitmq: {url: "amqp://127.0.0.1:5672/", usernameEnv: RMQ_USER, passwordEnv: RMQ_PASS, queue: posts, prefetch: 50, maxAttempts: 2, deadLetterQueue: posts.dlq}
  - name: uploads
    objectStore: {kind: s3, endpoint: "http://127.0.0.1:9000", bucket: logs, prefix: incoming/, accessKeyEnv: S3_AK, secretKeyEnv: S3_SK, afterProcessing: move, moveToPrefix: done/, pollInterval: 2s}
  - name: nightly
    cron: {schedule: "0 3 * * *", payload: hello}
  - name: web
    http: {}
)";

TEST(ConfigParserTest, ParsesAFullYamlConfig) {
  auto parsed = parseFunctionConfig(kFullYaml);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const FunctionConfig& c = *parsed;
  EXPECT_EQ(c.name, "log-cleaner");
  EXPECT_EQ(c.namespaceName, "team-a");
  EXPECT_EQ(c.runtime, RuntimeKind::kPython311);
  EXPECT_EQ(c.timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.concurrency, 4);
  EXPECT_EQ(c.eventShape, EventShape::kScf);
  EXPECT_EQ(c.environment.at("MODE"), "strict");
  EXPECT_EQ(c.compat.region, "ap-chengdu");
  EXPECT_EQ(c.compat.appId, "1253970026");
  EXPECT_EQ(c.compat.uin, "100000000002");
  EXPECT_EQ(c.compat.accountId, "123456789012");
  EXPECT_EQ(c.compat.lambdaKafka, LambdaKafkaForm::kMsk);
  EXPECT_EQ(c.compat.mskClusterArn, "arn:aws:kafka:us-east-1:123456789012:cluster/c/x-1");
  EXPECT_EQ(c.memoryLimitMb, 256);
  EXPECT_EQ(c.retry.maxAttempts, 5);
  EXPECT_EQ(c.retry.backoff.initialDelay, std::chrono::milliseconds(100));
  EXPECT_EQ(c.retry.backoff.maxDelay, std::chrono::milliseconds(10'000));
  EXPECT_DOUBLE_EQ(c.retry.backoff.multiplier, 3.0);
  ASSERT_EQ(c.outputs.size(), 2u);
  EXPECT_EQ(std::get<KafkaSinkConfig>(c.outputs[0].sink).topic, "cleaned");
  EXPECT_EQ(std::get<S3SinkConfig>(c.outputs[1].sink).endpoint.bucket, "arch");
  ASSERT_TRUE(c.deadLetter.has_value());
  EXPECT_EQ(c.deadLetter->name, "deadLetter");
  ASSERT_EQ(c.triggers.size(), 5u);
  const auto& kafka = std::get<KafkaSourceConfig>(c.triggers[0].source);
  EXPECT_EQ(kafka.bootstrapServers, "127.0.0.1:9092,127.0.0.1:9093");
  EXPECT_EQ(kafka.topics, std::vector<std::string>{"raw-logs"});
  EXPECT_EQ(kafka.initialOffset, "earliest");
  EXPECT_EQ(kafka.batchSize, 10);
  EXPECT_EQ(kafka.maxInFlight, 500);
  EXPECT_EQ(kafka.security.saslMechanism, "SCRAM-SHA-512");
  EXPECT_EQ(kafka.security.passwordEnv, "KAFKA_PASS");
  const auto& rabbit = std::get<RabbitMqSourceConfig>(c.triggers[1].source);
  EXPECT_EQ(rabbit.queue, "posts");
  EXPECT_EQ(rabbit.prefetch, 50);
  EXPECT_EQ(rabbit.maxAttempts, 2);
  EXPECT_EQ(rabbit.deadLetterQueue, "posts.dlq");
  const auto& store = std::get<ObjectStoreSourceConfig>(c.triggers[2].source);
  EXPECT_EQ(store.afterProcessing, AfterProcessing::kMove);
  EXPECT_EQ(store.pollInterval, std::chrono::milliseconds(2000));
  EXPECT_EQ(std::get<CronSourceConfig>(c.triggers[3].source).payload, "hello");
  EXPECT_EQ(std::get<HttpSourceConfig>(c.triggers[4].source).path, "/invoke");
  EXPECT_EQ(findOutput(c, "")->name, "cleaned");
  EXPECT_EQ(findOutput(c, "archive")->name, "archive");
  EXPECT_EQ(findOutput(c, "nope"), nullptr);
}

TEST(ConfigParserTest, ParsesTriggerBindingsOrderingRetryAndDeadLetter) {
  auto parsed = parseFunctionConfig(R"(
name: f
codeDir: /code
triggers:
- name: orders
  rabbitmq: {urlEnv: AMQP_URL, queue: orders, exchange: shop, routingKeys: [orders.created, "orders.*"]}
  retry: {maxAttempts: 1, backoff: {initialDelay: 5ms, maxDelay: 7ms}}
  deadLetter: {rabbitmq: {urlEnv: AMQP_URL, routingKey: orders.dlq}}
- name: logs
  kafka: {bootstrapServers: "127.0.0.1:9092", topics: [logs], consumerGroup: g, ordering: none}
- name: plain
  kafka: {bootstrapServers: "127.0.0.1:9092", topics: [logs], consumerGroup: g}
)");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& orders = parsed->triggers[0];
  const auto& rabbit = std::get<RabbitMqSourceConfig>(orders.source);
  EXPECT_EQ(rabbit.exchange, "shop");
  EXPECT_EQ(rabbit.routingKeys, (std::vector<std::string>{"orders.created", "orders.*"}));
  ASSERT_TRUE(orders.retry.has_value());
  EXPECT_EQ(orders.retry->maxAttempts, 1);
  EXPECT_EQ(orders.retry->backoff.initialDelay, std::chrono::milliseconds(5));
  EXPECT_EQ(orders.retry->backoff.maxDelay, std::chrono::milliseconds(7));
  ASSERT_TRUE(orders.deadLetter.has_value());
  EXPECT_EQ(std::get<RabbitMqSinkConfig>(orders.deadLetter->sink).routingKey, "orders.dlq");
  EXPECT_FALSE(std::get<KafkaSourceConfig>(parsed->triggers[1].source).ordered);
  EXPECT_TRUE(std::get<KafkaSourceConfig>(parsed->triggers[2].source).ordered);
  EXPECT_FALSE(parsed->triggers[1].retry.has_value());
  EXPECT_FALSE(parsed->triggers[1].deadLetter.has_value());
}

TEST(ConfigParserTest, ParsesJsonWithDefaultsAndAPipelineInFileOrder) {
  auto parsed = parseFunctionConfig(R"J({
    "name": "mirror", "runtime": "builtin",
    "outputs": [{"name": "a", "dir": {"path": "/tmp/a"}}, {"name": "b", "dir": {"path": "/tmp/b"}}],
    "pipeline": [
      {"filter": {"expression": "level == \"ERROR\" && status >= 500"}},
      {"map": {"fields": {"z": "status + 1", "a": "lower(level)"}}},
      {"route": {"field": "team", "routes": {"x": "b"}, "default": "a"}},
      {"mirror": {}}
    ]})J");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->timeout, std::chrono::seconds(30));
  EXPECT_EQ(parsed->retry.maxAttempts, 3);
  EXPECT_EQ(parsed->concurrency, 1);
  EXPECT_EQ(parsed->eventShape, EventShape::kCanonical);
  ASSERT_EQ(parsed->pipeline.size(), 4u);
  const auto& map = std::get<MapOperatorConfig>(parsed->pipeline[1].op);
  ASSERT_EQ(map.fields.size(), 2u);
  EXPECT_EQ(map.fields[0].first, "z");  // file order, not alphabetical
  EXPECT_EQ(std::get<RouteOperatorConfig>(parsed->pipeline[2].op).defaultOutput, "a");
}

TEST(ConfigParserTest, MirrorFailoverFieldsHaveDefaultsAndAreRead) {
  auto defaults = parseFunctionConfig(R"({"name": "m", "runtime": "builtin", "pipeline": [{"mirror": {}}]})");
  ASSERT_TRUE(defaults.isOk()) << defaults.status().toString();
  const auto& plain = std::get<MirrorOperatorConfig>(defaults->pipeline[0].op);
  EXPECT_TRUE(plain.groups.empty());
  EXPECT_EQ(plain.groupSyncInterval, std::chrono::seconds(10));
  EXPECT_EQ(plain.configSyncInterval, std::chrono::seconds(60));
  auto parsed = parseFunctionConfig(R"({"name": "m", "runtime": "builtin", "pipeline": [{"mirror": {
      "rename": "prefix", "prefix": "A.", "groups": ["billing", "^orders-.*"],
      "groupSyncIntervalSeconds": 2, "configSyncIntervalSeconds": 0}}]})");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& mirror = std::get<MirrorOperatorConfig>(parsed->pipeline[0].op);
  EXPECT_EQ(mirror.groups, (std::vector<std::string>{"billing", "^orders-.*"}));
  EXPECT_EQ(mirror.groupSyncInterval, std::chrono::seconds(2));
  EXPECT_EQ(mirror.configSyncInterval, std::chrono::seconds(0));
}

// A RabbitMQ -> RabbitMQ mirror with `mirror` as written in the test.
std::string rabbitMqMirror(const std::string& mirror,
                           const std::string& output = R"({"rabbitmq":{"url":"amqp://b/","exchange":"shop"}})",
                           const std::string& source = R"({"rabbitmq":{"url":"amqp://a/","queue":"q"}})") {
  return R"({"name":"m","runtime":"builtin","pipeline":[{"mirror":)" + mirror + R"(}],"outputs":[{"name":"out",)" +
         output.substr(1) + R"(],"triggers":[{"name":"in",)" + source.substr(1) + "]}";
}

TEST(ConfigParserTest, RabbitMqMirrorReadsKeepUserIdAndDefinitionsWithPrune) {
  auto parsed = parseFunctionConfig(rabbitMqMirror(R"({"keepUserId":true,"definitions":{
      "sourceManagementUrlEnv":"A_URL","targetManagementUrlEnv":"B_URL","names":["q"],"interval":"2s","prune":true}})"));
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& mirror = std::get<MirrorOperatorConfig>(parsed->pipeline[0].op);
  EXPECT_TRUE(mirror.keepUserId);
  ASSERT_TRUE(mirror.definitions.has_value());
  EXPECT_EQ(mirror.definitions->interval, std::chrono::seconds(2));
  EXPECT_TRUE(mirror.definitions->prune);
  auto plain = parseFunctionConfig(rabbitMqMirror(
      R"({"definitions":{"sourceManagementUrlEnv":"A_URL","targetManagementUrlEnv":"B_URL","names":["q"]}})"));
  ASSERT_TRUE(plain.isOk()) << plain.status().toString();
  EXPECT_FALSE(std::get<MirrorOperatorConfig>(plain->pipeline[0].op).definitions->prune);  // opt-in
}

TEST(ConfigParserTest, KafkaMirrorRefusesTheRabbitMqOnlyFieldsNamingThem) {
  const std::string kafkaOut = R"({"kafka":{"bootstrapServers":"k:9092","topic":"t"}})";
  const std::string kafkaIn = R"({"kafka":{"bootstrapServers":"k:9092","topics":["t"],"consumerGroup":"g"}})";
  EXPECT_EQ(parseFunctionConfig(rabbitMqMirror(R"({"keepUserId":true})", kafkaOut, kafkaIn)).status().message(),
            "pipeline[0].mirror.keepUserId: only a RabbitMQ mirror keeps the user id (outputs[0] is kafka)");
  // RabbitMQ out, Kafka in: still not a RabbitMQ mirror.
  EXPECT_EQ(parseFunctionConfig(rabbitMqMirror(R"({"keepUserId":true})",
                                               R"({"rabbitmq":{"url":"amqp://b/","exchange":"shop"}})", kafkaIn))
                .status()
                .message(),
            "pipeline[0].mirror.keepUserId: only a RabbitMQ mirror keeps the user id (triggers[0] is kafka)");
  EXPECT_EQ(
      parseFunctionConfig(rabbitMqMirror(R"({"definitions":{"sourceManagementUrlEnv":"A","targetManagementUrlEnv":"B",
                                           "names":["q"]}})",
                                         kafkaOut, kafkaIn))
          .status()
          .message(),
      "pipeline[0].mirror.definitions: only a RabbitMQ mirror syncs queues, exchanges and bindings (outputs[0] is "
      "kafka)");
  // keepUserId: false says nothing a Kafka mirror could not do.
  EXPECT_TRUE(parseFunctionConfig(rabbitMqMirror(R"({"keepUserId":false})", kafkaOut, kafkaIn)).isOk());
}

TEST(ConfigParserTest, YamlQuotedScalarsStayStrings) {
  auto parsed = parseFunctionConfig(R"(
name: f
runtime: builtin
pipeline:
  - set: {fields: {a: "42", b: 42, c: true, d: "true", e: 1.5, f: null}}
)");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const auto& set = std::get<SetOperatorConfig>(parsed->pipeline[0].op);
  ASSERT_EQ(set.fields.size(), 6u);
  EXPECT_EQ(set.fields[0].second, nlohmann::json("42"));
  EXPECT_EQ(set.fields[1].second, nlohmann::json(42));
  EXPECT_EQ(set.fields[2].second, nlohmann::json(true));
  EXPECT_EQ(set.fields[3].second, nlohmann::json("true"));
  EXPECT_EQ(set.fields[4].second, nlohmann::json(1.5));
  EXPECT_TRUE(set.fields[5].second.is_null());
}

struct BadCase {
  const char* name;
  std::string text;
  std::string error;
};

std::string builtin(const std::string& pipeline, const std::string& extra = "") {
  return R"({"name":"f","runtime":"builtin","outputs":[{"name":"out","dir":{"path":"/tmp"}}],"pipeline":)" + pipeline +
         extra + "}";
}
std::string python(const std::string& extra) { return R"({"name":"f","codeDir":"/code")" + extra + "}"; }
std::string kafkaTrigger(const std::string& body) {
  return python(R"(,"triggers":[{"name":"t","kafka":)" + body + "}]");
}
const std::string kKafkaBase = R"("bootstrapServers":"127.0.0.1:9092","topics":["in"],"consumerGroup":"g")";

class ConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrorTest, NamesTheFieldAndValue) {
  auto parsed = parseFunctionConfig(GetParam().text);
  ASSERT_FALSE(parsed.isOk()) << GetParam().text;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrorTest,
    ::testing::Values(
        BadCase{"RootNotObject", "[1,2]", "(root): must be an object, got a list"},
        BadCase{"MissingName", R"({"codeDir":"/c"})", "name: is required"},
        BadCase{"UnknownTopField", python(R"(,"timeout":5)"), "timeout: unknown field"},
        BadCase{"BadRuntime", python(R"(,"runtime":"python2")"),
                "runtime: must be one of python3.11, builtin, http, got \"python2\""},
        BadCase{"HttpPortZero", R"({"name":"n","runtime":"http","http":{"port":0}})",
                "http.port: must be between 1 and 65535, got 0"},
        BadCase{"HttpPathRelative", R"({"name":"n","runtime":"http","http":{"path":"events"}})",
                "http.path: must start with /, got \"events\""},
        BadCase{"HttpUnknownField", R"({"name":"n","runtime":"http","http":{"url":"http://x/"}})",
                "http.url: unknown field"},
        BadCase{"TimeoutZero", python(R"(,"timeoutSeconds":0)"), "timeoutSeconds: must be between 1 and 86400, got 0"},
        BadCase{"TimeoutString", python(R"(,"timeoutSeconds":"5")"), "timeoutSeconds: must be an integer, got \"5\""},
        BadCase{"BadHandler", python(R"(,"handler":"main_handler")"),
                "handler: must be module.function such as \"index.main_handler\", got \"main_handler\""},
        BadCase{"NoCodeDir", R"({"name":"f"})", "codeDir: is required for runtime python3.11"},
        BadCase{"CodeFileOutsideItsDirectory", R"({"name":"f","codeFiles":{"../x.py":"pass"}})",
                "codeFiles: file names must be plain names such as \"index.py\", got \"../x.py\""},
        BadCase{"BadShape", python(R"(,"eventShape":"azure")"),
                "eventShape: must be one of canonical, scf, lambda, got \"azure\""},
        BadCase{"BadAccount", python(R"(,"compat":{"accountId":"42"})"),
                "compat.accountId: must be 12 digits, got \"42\""},
        BadCase{"BadKafkaForm", python(R"(,"compat":{"lambdaKafkaEventSource":"msk"})"),
                "compat.lambdaKafkaEventSource: must be one of SelfManagedKafka, aws:kafka, got \"msk\""},
        BadCase{"UnknownCompatField", python(R"(,"compat":{"appid":"1"})"), "compat.appid: unknown field"},
        BadCase{"NegativeMemory", python(R"(,"memoryLimitMb":-1)"),
                "memoryLimitMb: must be a non-negative integer, got -1"},
        BadCase{"RetryAttempts", python(R"(,"retry":{"maxAttempts":0})"),
                "retry.maxAttempts: must be between 1 and 1000, got 0"},
        BadCase{"BackoffDuration", python(R"(,"retry":{"backoff":{"initialDelay":"soon"}})"),
                "retry.backoff.initialDelay: must be a duration such as \"500ms\", \"2s\", \"1m\" or \"1m30s\", got "
                "\"soon\""},
        BadCase{"BackoffOrder", python(R"(,"retry":{"backoff":{"initialDelay":"2s","maxDelay":"1s"}})"),
                "retry.backoff.maxDelay: must be at least initialDelay (2000ms), got 1000ms"},
        BadCase{"JitterRange", python(R"(,"retry":{"backoff":{"jitter":1.5}})"),
                "retry.backoff.jitter: must be between 0 and 1, got 1.5"},
        BadCase{"KafkaNoTopics", kafkaTrigger(R"({"bootstrapServers":"127.0.0.1:9092","consumerGroup":"g"})"),
                "triggers[0].kafka.topics: is required"},
        BadCase{"KafkaEmptyTopic",
                kafkaTrigger(R"({"bootstrapServers":"127.0.0.1:9092","topics":["a",""],"consumerGroup":"g"})"),
                "triggers[0].kafka.topics[1]: must not be empty"},
        BadCase{"KafkaServers", kafkaTrigger(R"({"bootstrapServers":"localhost","topics":["a"],"consumerGroup":"g"})"),
                "triggers[0].kafka.bootstrapServers: must be host:port[,host:port...], got \"localhost\""},
        BadCase{"KafkaOffset", kafkaTrigger("{" + kKafkaBase + R"(,"initialOffset":"newest"})"),
                "triggers[0].kafka.initialOffset: must be one of latest, earliest, got \"newest\""},
        BadCase{"KafkaInFlight", kafkaTrigger("{" + kKafkaBase + R"(,"batchSize":100,"maxInFlight":10})"),
                "triggers[0].kafka.maxInFlight: must be at least batchSize (100), got 10"},
        BadCase{"KafkaSaslNoMechanism", kafkaTrigger("{" + kKafkaBase + R"(,"security":{"protocol":"SASL_SSL"}})"),
                "triggers[0].kafka.security.saslMechanism: is required when protocol is SASL_SSL"},
        BadCase{
            "KafkaBadEnvName",
            kafkaTrigger(
                "{" + kKafkaBase +
                R"(,"security":{"protocol":"SASL_PLAINTEXT","saslMechanism":"PLAIN","usernameEnv":"U","passwordEnv":"my pass"}})"),
            "triggers[0].kafka.security.passwordEnv: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), "
            "got \"my pass\""},
        BadCase{"KafkaSecretProperty", kafkaTrigger("{" + kKafkaBase + R"(,"properties":{"sasl.password":"hunter2"}})"),
                "triggers[0].kafka.properties.sasl.password: secrets are not allowed here; use security.*Env"},
        BadCase{"TwoSources", python(R"(,"triggers":[{"name":"t","http":{},"cron":{"schedule":"* * * * *"}}])"),
                "triggers[0]: must have exactly one source (kafka, rabbitmq, http, cron, objectStore), got http, cron"},
        BadCase{"NoSource", python(R"(,"triggers":[{"name":"t"}])"),
                "triggers[0]: must have exactly one source (kafka, rabbitmq, http, cron, objectStore), got none"},
        BadCase{"DuplicateTrigger", python(R"(,"triggers":[{"name":"t","http":{}},{"name":"t","http":{"path":"/x"}}])"),
                "triggers[1].name: duplicate trigger name \"t\""},
        BadCase{
            "RabbitPassword",
            python(R"(,"triggers":[{"name":"t","rabbitmq":{"url":"amqp://guest:guest@127.0.0.1:5672/","queue":"q"}}])"),
            "triggers[0].rabbitmq.url: must not contain a password; give it through passwordEnv or urlEnv"},
        BadCase{"RabbitCertWithoutKey",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"U","queue":"q","tlsCertEnv":"C"}}])"),
                "triggers[0].rabbitmq.tlsKeyEnv: tlsCertEnv and tlsKeyEnv go together"},
        BadCase{"RabbitBadCaEnv",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"U","queue":"q","tlsCaEnv":"ca.crt"}}])"),
                "triggers[0].rabbitmq.tlsCaEnv: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got "
                "\"ca.crt\""},
        BadCase{"RabbitRoutingKeysWithoutExchange",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"U","queue":"q","routingKeys":["a"]}}])"),
                "triggers[0].rabbitmq.routingKeys: needs exchange"},
        BadCase{"RabbitManagementWithoutExchange",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"U","queue":"q","managementUrlEnv":"M"}}])"),
                "triggers[0].rabbitmq.managementUrlEnv: needs exchange"},
        BadCase{"RabbitEmptyRoutingKey",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"U","queue":"q","exchange":"x",)"
                       R"("routingKeys":["a",""]}}])"),
                "triggers[0].rabbitmq.routingKeys[1]: must not be empty"},
        BadCase{"KafkaOrdering", kafkaTrigger("{" + kKafkaBase + R"(,"ordering":"key"})"),
                "triggers[0].kafka.ordering: must be one of partition, none, got \"key\""},
        BadCase{"TriggerRetryAttempts", python(R"(,"triggers":[{"name":"t","http":{},"retry":{"maxAttempts":0}}])"),
                "triggers[0].retry.maxAttempts: must be between 1 and 1000, got 0"},
        BadCase{"TriggerBackoffOrder",
                python(R"(,"triggers":[{"name":"t","http":{},"retry":{"backoff":{"initialDelay":"2s",)"
                       R"("maxDelay":"1s"}}}])"),
                "triggers[0].retry.backoff.maxDelay: must be at least initialDelay (2000ms), got 1000ms"},
        BadCase{"TriggerDeadLetterKind", python(R"(,"triggers":[{"name":"t","http":{},"deadLetter":{}}])"),
                "triggers[0].deadLetter: must have exactly one sink (kafka, rabbitmq, http, s3, dir), got none"},
        BadCase{"RabbitNoUrl", python(R"(,"triggers":[{"name":"t","rabbitmq":{"queue":"q"}}])"),
                "triggers[0].rabbitmq.url: exactly one of url and urlEnv is required"},
        BadCase{"RabbitPrefetch",
                python(R"(,"triggers":[{"name":"t","rabbitmq":{"urlEnv":"AMQP_URL","queue":"q","prefetch":0}}])"),
                "triggers[0].rabbitmq.prefetch: must be between 1 and 65535, got 0"},
        BadCase{"CronFields", python(R"(,"triggers":[{"name":"t","cron":{"schedule":"* * *"}}])"),
                "triggers[0].cron.schedule: must have 5 fields (minute hour day month weekday), got 3 in \"* * *\""},
        BadCase{"HttpPath", python(R"(,"triggers":[{"name":"t","http":{"path":"invoke"}}])"),
                "triggers[0].http.path: must start with '/', got \"invoke\""},
        BadCase{"HttpAsyncWithoutQueue", python(R"(,"triggers":[{"name":"t","http":{"async":{}}}])"),
                "triggers[0].http.async: exactly one of rabbitmq and kafka is required"},
        BadCase{"HttpAsyncOnBoth",
                python(R"(,"triggers":[{"name":"t","http":{"async":{"rabbitmq":{"urlEnv":"AMQP_URL","queue":"q"},)"
                       R"("kafka":{"bootstrapServers":"k:9092","topics":["t"],"consumerGroup":"g"}}}}])"),
                "triggers[0].http.async: exactly one of rabbitmq and kafka is required"},
        BadCase{"ObjectStoreKind", python(R"(,"triggers":[{"name":"t","objectStore":{"kind":"gcs"}}])"),
                "triggers[0].objectStore.kind: must be one of s3, dir, webhdfs, got \"gcs\""},
        BadCase{"ObjectStoreNoBucket",
                python(R"(,"triggers":[{"name":"t","objectStore":{"endpoint":"http://127.0.0.1:9000"}}])"),
                "triggers[0].objectStore.bucket: is required for kind s3"},
        BadCase{
            "ObjectStoreMoveNoTarget",
            python(
                R"(,"triggers":[{"name":"t","objectStore":{"kind":"dir","prefix":"/in","afterProcessing":"move"}}])"),
            "triggers[0].objectStore.moveToPrefix: is required when afterProcessing is move"},
        BadCase{
            "ObjectStoreDirTag",
            python(R"(,"triggers":[{"name":"t","objectStore":{"kind":"dir","prefix":"/in","afterProcessing":"tag"}}])"),
            "triggers[0].objectStore.afterProcessing: tag is not possible for kind dir"},
        BadCase{"ObjectStoreWebHdfsToken",
                python(R"(,"triggers":[{"name":"t","objectStore":{"kind":"webhdfs",)"
                       R"("endpoint":"http://127.0.0.1:9870?delegation=abc","prefix":"/in"}}])"),
                "triggers[0].objectStore.endpoint: must be the NameNode's base URL http(s)://host:port with no query "
                "or credentials (WebHDFS delegation tokens and Kerberos are not supported; set user for simple auth), "
                "got \"http://127.0.0.1:9870?delegation=abc\""},
        BadCase{"ObjectStoreWebHdfsRelative",
                python(R"(,"triggers":[{"name":"t","objectStore":{"kind":"webhdfs",)"
                       R"("endpoint":"http://127.0.0.1:9870","prefix":"in"}}])"),
                "triggers[0].objectStore.prefix: must be an absolute HDFS path, got \"in\""},
        BadCase{
            "ObjectStorePoll",
            python(R"(,"triggers":[{"name":"t","objectStore":{"kind":"dir","prefix":"/in","pollInterval":"1ms"}}])"),
            "triggers[0].objectStore.pollInterval: must be at least 100ms, got \"1ms\""},
        BadCase{"DuplicateOutput",
                python(R"(,"outputs":[{"name":"o","dir":{"path":"/a"}},{"name":"o","dir":{"path":"/b"}}])"),
                "outputs[1].name: duplicate output name \"o\""},
        BadCase{"OutputName", python(R"(,"outputs":[{"name":"bad name","dir":{"path":"/a"}}])"),
                "outputs[0].name: must be 1-63 letters, digits, '-', '_' or '.', got \"bad name\""},
        BadCase{
            "HttpSinkAuthHeader",
            python(
                R"(,"outputs":[{"name":"o","http":{"url":"http://127.0.0.1/x","headers":{"Authorization":"Bearer x"}}}])"),
            "outputs[0].http.headers.Authorization: secrets are not allowed here; use bearerTokenEnv"},
        BadCase{"HttpSinkScheme", python(R"(,"outputs":[{"name":"o","http":{"url":"ftp://h/x"}}])"),
                "outputs[0].http.url: must start with http://, https://, got \"ftp://h/x\""},
        BadCase{"S3SinkKeys",
                python(R"(,"outputs":[{"name":"o","s3":{"endpoint":"http://127.0.0.1:9000","bucket":"b"}}])"),
                "outputs[0].s3.accessKeyEnv: is required"},
        BadCase{"PythonWithPipeline", python(R"(,"pipeline":[{"mirror":{}}])"),
                "pipeline: is only used with runtime builtin"},
        BadCase{"BuiltinEmptyPipeline", builtin("[]"), "pipeline: must not be empty for runtime builtin"},
        BadCase{"FilterSyntax", builtin(R"J([{"mirror":{}},{"mirror":{}},{"filter":{"expression":"status >= )"}}])J"),
                "pipeline[2].filter.expression: unexpected ')' at column 11"},
        BadCase{"FilterUnknownFunction", builtin(R"([{"filter":{"expression":"size(x) > 1"}}])"),
                "pipeline[0].filter.expression: unknown function \"size\" at column 1"},
        BadCase{"FilterMissing", builtin(R"([{"filter":{}}])"), "pipeline[0].filter.expression: is required"},
        BadCase{"FilterTypo", builtin(R"([{"filter":{"expresion":"a"}}])"),
                "pipeline[0].filter.expression: is required"},
        BadCase{"OperatorUnknown", builtin(R"([{"explode":{}}])"),
                "pipeline[0]: must have exactly one operator (filter, map, project, rename, set, mask, parse, "
                "decompress, route, mirror), got none"},
        BadCase{"MirrorRename", builtin(R"([{"mirror":{"rename":"suffix"}}])"),
                "pipeline[0].mirror.rename: must be one of output, identity, prefix, got \"suffix\""},
        BadCase{"MirrorPrefixNeedsRename", builtin(R"([{"mirror":{"rename":"identity","prefix":"A."}}])"),
                "pipeline[0].mirror.prefix: is only used with rename: prefix"},
        BadCase{"MirrorPrefixMissing", builtin(R"([{"mirror":{"rename":"prefix"}}])"),
                "pipeline[0].mirror.prefix: is required with rename: prefix (or set sourceAlias: the prefix is then "
                "\"<sourceAlias>.\")"},
        BadCase{"MirrorPrefixChars", builtin(R"([{"mirror":{"rename":"prefix","prefix":"A/"}}])"),
                "pipeline[0].mirror.prefix: must be 1 to 200 of A-Z a-z 0-9 . _ - (as in a Kafka topic name), got "
                "\"A/\""},
        BadCase{"MirrorTargetAliasMissing", builtin(R"([{"mirror":{"sourceAlias":"A"}}])"),
                "pipeline[0].mirror.targetAlias: is required with sourceAlias (loop prevention needs both cluster "
                "aliases)"},
        BadCase{"MirrorSameAliases", builtin(R"([{"mirror":{"sourceAlias":"A","targetAlias":"A"}}])"),
                "pipeline[0].mirror.targetAlias: must differ from sourceAlias, both are \"A\""},
        BadCase{"MirrorAliasChars", builtin(R"([{"mirror":{"sourceAlias":"dc a","targetAlias":"B"}}])"),
                "pipeline[0].mirror.sourceAlias: must be 1 to 64 of A-Z a-z 0-9 . _ - (as in a Kafka topic name), "
                "got \"dc a\""},
        BadCase{"MirrorGroupsNeedTopicNames", builtin(R"([{"mirror":{"groups":["app"]}}])"),
                "pipeline[0].mirror.groups: needs rename identity or prefix (offsets are translated per source topic "
                "and partition)"},
        BadCase{"MirrorGroupRegex", builtin(R"([{"mirror":{"rename":"identity","groups":["app","^(x"]}}])"),
                "pipeline[0].mirror.groups[1]: invalid regular expression: missing ): ^(x"},
        BadCase{"MirrorGroupEmpty", builtin(R"([{"mirror":{"rename":"identity","groups":[""]}}])"),
                "pipeline[0].mirror.groups[0]: must not be empty"},
        BadCase{"MirrorGroupInterval",
                builtin(R"([{"mirror":{"rename":"identity","groups":["a"],"groupSyncIntervalSeconds":0}}])"),
                "pipeline[0].mirror.groupSyncIntervalSeconds: must be between 1 and 3600, got 0"},
        BadCase{"MirrorConfigInterval", builtin(R"([{"mirror":{"configSyncIntervalSeconds":"1m"}}])"),
                "pipeline[0].mirror.configSyncIntervalSeconds: must be an integer, got \"1m\""},
        BadCase{"MirrorDefinitionsPrune",
                builtin(R"([{"mirror":{"definitions":{"sourceManagementUrlEnv":"A","targetManagementUrlEnv":"B",
                        "names":["q"],"prune":"yes"}}}])"),
                "pipeline[0].mirror.definitions.prune: must be true or false, got \"yes\""},
        BadCase{"MirrorUnknownField", builtin(R"([{"mirror":{"replication.policy":"identity"}}])"),
                "pipeline[0].mirror.replication.policy: unknown field"},
        BadCase{"MaskRegex", builtin(R"([{"mask":{"pattern":"(abc"}}])"),
                "pipeline[0].mask.pattern: invalid regular expression: missing ): (abc"},
        BadCase{"ParseRegexNoGroups", builtin(R"J([{"parse":{"format":"regex","pattern":"(\\w+) (\\d+)"}}])J"),
                "pipeline[0].parse.pattern: needs at least one named group such as (?P<level>\\w+)"},
        BadCase{"ParseFormat", builtin(R"([{"parse":{"format":"xml"}}])"),
                "pipeline[0].parse.format: must be one of json, regex, keyvalue, got \"xml\""},
        BadCase{"DecompressFormat", builtin(R"([{"decompress":{"format":"rar"}}])"),
                "pipeline[0].decompress.format: must be one of auto, gzip, zip, tar, got \"rar\""},
        BadCase{"RouteUnknownOutput", builtin(R"([{"route":{"field":"level","routes":{"ERROR":"alerts"}}}])"),
                "pipeline[0].route.routes.ERROR: unknown output \"alerts\" (outputs: out)"},
        BadCase{"ProjectFieldPath", builtin(R"([{"project":{"fields":["a","b..c"]}}])"),
                "pipeline[0].project.fields[1]: must be a dotted field path such as \"user.name\", got \"b..c\""},
        BadCase{"MapExpression", builtin(R"([{"map":{"fields":{"total":"price * "}}}])"),
                "pipeline[0].map.fields.total: unexpected end of expression at column 9"}),
    [](const ::testing::TestParamInfo<BadCase>& param) { return param.param.name; });

// runtime http (docs/handler-images.md): no code, the handler server's port and path.
TEST(ConfigParserTest, HttpRuntimeNeedsNoCodeAndKeepsThePortAndPath) {
  auto parsed = parseFunctionConfig(R"({"name":"n","runtime":"http","http":{"port":3000,"path":"/events"},
                                        "concurrency":8})");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->runtime, RuntimeKind::kHttp);
  EXPECT_EQ(parsed->http.port, 3000);
  EXPECT_EQ(parsed->http.path, "/events");
  EXPECT_EQ(parsed->concurrency, 8);
  auto defaults = parseFunctionConfig(R"({"name":"n","runtime":"http"})");
  ASSERT_TRUE(defaults.isOk()) << defaults.status().toString();
  EXPECT_EQ(defaults->http.port, 8000);
  EXPECT_EQ(defaults->http.path, "/");
}

TEST(ConfigParserTest, InvalidJsonSaysSo) {
  auto parsed = parseFunctionConfig("{\"name\": ");
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().message().rfind("function config is not valid JSON: ", 0), 0u) << parsed.status().message();
}

// Found by tests/fuzz/config_parser_fuzz: a YAML string that is not UTF-8
// reached a dump() in the set operator, which threw past the parser
// (std::terminate). The JSON parser refuses such bytes; YAML now does too.
TEST(ConfigParserTest, YamlThatIsNotUtf8IsAnErrorNamingWhere) {
  auto parsed = parseFunctionConfig(
      "\nname: f\nruntime: builtin\npipeline:\n"
      "  - set: {fields: {a: \"\xcd\x34\x32\", b: 42, c: true, d: \"true\", e: 1.5, f: null}}\n");
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), "function config is not valid YAML: invalid UTF-8 at line 5, column 24");
  EXPECT_EQ(parseFunctionConfig("name: \"f\xff\"\n").status().message(),
            "function config is not valid YAML: invalid UTF-8 at line 1, column 9");
  // Valid UTF-8 beyond ASCII is a string like any other.
  auto accepted =
      parseFunctionConfig("name: f\nruntime: builtin\npipeline:\n  - set: {fields: {a: \"caf\xc3\xa9\"}}\n");
  ASSERT_TRUE(accepted.isOk()) << accepted.status().toString();
}

TEST(ConfigParserTest, LoadNamesTheFile) {
  auto missing = loadFunctionConfig("/nonexistent/function.yaml");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "cannot read function config /nonexistent/function.yaml");

  std::string path = ::testing::TempDir() + "/bad-function.yaml";
  std::ofstream(path) << "name: f\ncodeDir: /c\ntimeoutSeconds: -1\n";
  auto bad = loadFunctionConfig(path);
  EXPECT_EQ(bad.status().message(), path + ": timeoutSeconds: must be between 1 and 86400, got -1");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sluice::runtime::config
