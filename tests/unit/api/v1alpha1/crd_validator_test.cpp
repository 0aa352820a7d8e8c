// The --local manifest checks: the apiserver's wording and the CRDs' own
// messages, with the field path; every CEL rule of crds/ has a twin.
#include "api/v1alpha1/crd_validator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "api/v1alpha1/semantics.h"
#include "common/yaml.h"
#include "python_syntax/python_syntax.h"
#include "runtime/expression/expression.h"

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

json yaml(const std::string& text) {
  auto documents = parseYamlDocuments(text);
  EXPECT_TRUE(documents.isOk()) << documents.status().toString();
  return documents->at(0).value;
}

std::vector<std::string> messages(json object) {
  std::vector<std::string> out;
  for (const FieldError& e : CrdValidator::builtin().validate(object)) out.push_back(e.message);
  return out;
}

// For comparing messages whose order the validator does not promise.
std::vector<std::string> sorted(std::vector<std::string> list) {
  std::sort(list.begin(), list.end());
  return list;
}

const char* kFunction = R"(
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: fn}
spec:
  runtime: builtin
  pipeline:
    - decompress: {format: gzip}
  outputs:
    - dir: {path: /tmp/out}
)";

TEST(CrdValidatorTest, BuiltinCrdsLoadWithEveryCelRuleImplemented) {
  EXPECT_TRUE(CrdValidator::builtin().knows("Function"));
  EXPECT_TRUE(CrdValidator::builtin().knows("Trigger"));
}

TEST(CrdValidatorTest, RefusesACrdRuleWithoutATwinNamingIt) {
  const std::string crd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: sluice.io
  names: {kind: Thing}
  versions:
    - name: v1
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-validations:
            - rule: self.size() < 3
              message: too big
)";
  auto validator = CrdValidator::fromCrds({crd});
  ASSERT_FALSE(validator.isOk());
  EXPECT_EQ(validator.status().message(), "CRD Thing: CEL rule without a --local implementation: self.size() < 3");
}

TEST(CrdValidatorTest, ValidFunctionPassesAndGetsTheCrdDefaults) {
  json fn = yaml(kFunction);
  EXPECT_TRUE(CrdValidator::builtin().validate(fn).empty());
  EXPECT_EQ(fn["spec"]["scaling"]["maxReplicas"], 100);
  EXPECT_EQ(fn["spec"]["scaling"]["drainTargetSeconds"], 2);
  // No default: the policy picks it (60 s under the rate rule, 300 s under the backlog rule).
  EXPECT_FALSE(fn["spec"]["scaling"].contains("cooldownSeconds"));
  EXPECT_EQ(fn["spec"]["concurrency"], 1);
}

TEST(CrdValidatorTest, OpenApiViolationsUseTheApiserverWording) {
  json fn = yaml(kFunction);
  fn["spec"]["scaling"] = {{"maxReplicas", 0}};
  fn["spec"]["runtime"] = "ruby";
  fn["spec"]["concurrency"] = "two";
  fn["spec"]["colour"] = "blue";
  auto got = messages(fn);
  std::vector<std::string> want = {
      "spec.concurrency: Invalid value: \"string\": spec.concurrency in body must be of type integer: \"string\"",
      "spec.runtime: Unsupported value: \"ruby\": supported values: \"python3.11\", \"builtin\"",
      "spec.scaling.maxReplicas: Invalid value: 0: spec.scaling.maxReplicas in body should be greater than or equal "
      "to 1",
      "unknown field \"spec.colour\"",
  };
  EXPECT_EQ(sorted(got), sorted(want));
}

TEST(CrdValidatorTest, AWholeNumberTooBigForAnIntegerIsNamedAsWritten) {
  // Found by fuzzing (issue 16): the message cast -1e128 to long long, which is undefined.
  json fn = yaml(kFunction);
  fn["spec"]["scaling"] = {{"maxReplicas", -1e128}};
  auto got = messages(fn);
  EXPECT_NE(std::find(got.begin(), got.end(),
                      "spec.scaling.maxReplicas: Invalid value: -1e+128: spec.scaling.maxReplicas in body should be "
                      "greater than or equal to 1"),
            got.end())
      << ::testing::PrintToString(got);
}

TEST(CrdValidatorTest, CompatTakesPlatformIdentifiersAndDefaultsTheKafkaForm) {
  json fn = yaml(kFunction);
  fn["spec"]["compat"] = {{"region", "eu-west-1"}, {"accountId", "123456789012"}, {"appId", "1253970026"}};
  EXPECT_TRUE(CrdValidator::builtin().validate(fn).empty());
  EXPECT_EQ(fn["spec"]["compat"]["lambdaKafkaEventSource"], "SelfManagedKafka");
  fn["spec"]["compat"] = {{"accountId", "42"}, {"lambdaKafkaEventSource", "msk"}};
  auto got = messages(fn);
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0],
            "spec.compat.accountId: Invalid value: \"42\": spec.compat.accountId in body should match "
            "'^[0-9]{12}$'");
  EXPECT_EQ(got[1],
            "spec.compat.lambdaKafkaEventSource: Unsupported value: \"msk\": supported values: "
            "\"SelfManagedKafka\", \"aws:kafka\"");
}

TEST(CrdValidatorTest, CelRulesReportTheCrdMessageAtTheirFieldPath) {
  json fn = yaml(kFunction);
  fn["spec"]["pipeline"] = json::array({{{"parse", {{"format", "regex"}}}}});
  fn["spec"]["scaling"] = {{"minReplicas", 5}, {"maxReplicas", 2}};
  fn["spec"]["outputs"] =
      json::array({{{"dir", {{"path", "/a"}}}, {"name", "x"}}, {{"dir", {{"path", "/b"}}}, {"name", "x"}}});
  auto got = messages(fn);
  std::vector<std::string> want = {
      "spec.pipeline[0].parse: Invalid value: \"object\": parse.format regex needs pattern",
      "spec.scaling.minReplicas: Invalid value: \"object\": minReplicas must not exceed maxReplicas",
      "spec.outputs: Invalid value: \"array\": output names must be unique",
  };
  EXPECT_EQ(sorted(got), sorted(want));
}

// The mirror step's options: the schema's enum and pattern, and its cross-field CEL rules.
TEST(CrdValidatorTest, MirrorOptionsAreCheckedWithTheirFieldPath) {
  json fn = yaml(kFunction);
  fn["spec"]["pipeline"] =
      json::array({{{"mirror", {{"rename", "prefix"}, {"prefix", "A."}}}},
                   {{"mirror", {{"rename", "identity"}, {"sourceAlias", "A"}, {"targetAlias", "B"}}}},
                   {{"mirror",
                     {{"rename", "identity"},
                      {"groups", {"billing", "^orders-.*"}},
                      {"groupSyncIntervalSeconds", 5},
                      {"configSyncIntervalSeconds", 0}}}}});
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
  fn["spec"]["pipeline"] = json::array({{{"mirror", {{"rename", "suffix"}}}},
                                        {{"mirror", {{"rename", "prefix"}}}},
                                        {{"mirror", {{"prefix", "A."}, {"sourceAlias", "A"}}}},
                                        {{"mirror", {{"sourceAlias", "dc a"}, {"targetAlias", "dc a"}}}},
                                        {{"mirror", {{"groups", {"billing"}}, {"groupSyncIntervalSeconds", 0}}}}});
  std::vector<std::string> want = {
      "spec.pipeline[0].mirror.rename: Unsupported value: \"suffix\": supported values: \"output\", \"identity\", "
      "\"prefix\"",
      "spec.pipeline[1].mirror: Invalid value: \"object\": mirror rename prefix needs prefix or sourceAlias",
      "spec.pipeline[2].mirror: Invalid value: \"object\": mirror.prefix is only used with rename prefix",
      "spec.pipeline[2].mirror: Invalid value: \"object\": mirror.sourceAlias and mirror.targetAlias are set "
      "together (loop prevention needs both)",
      "spec.pipeline[3].mirror.sourceAlias: Invalid value: \"dc a\": spec.pipeline[3].mirror.sourceAlias in body "
      "should match '^[a-zA-Z0-9._-]+$'",
      "spec.pipeline[3].mirror.targetAlias: Invalid value: \"dc a\": spec.pipeline[3].mirror.targetAlias in body "
      "should match '^[a-zA-Z0-9._-]+$'",
      "spec.pipeline[3].mirror: Invalid value: \"object\": mirror.targetAlias must differ from mirror.sourceAlias",
      "spec.pipeline[4].mirror: Invalid value: \"object\": mirror.groups needs rename identity or prefix (offsets are "
      "translated per source topic)",
      "spec.pipeline[4].mirror.groupSyncIntervalSeconds: Invalid value: 0: "
      "spec.pipeline[4].mirror.groupSyncIntervalSeconds in body should be greater than or equal to 1",
  };
  EXPECT_EQ(sorted(messages(fn)), sorted(want));
}

const char* kRabbitMqMirror = R"(
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: dr}
spec:
  runtime: builtin
  pipeline:
    - mirror:
        rename: identity
        keepUserId: true
        definitions:
          names: [orders, "^shop[.].*"]
          sourceManagementSecretRef: {name: broker-a}
          targetManagementSecretRef: {name: broker-b, key: adminUrl}
  outputs:
    - rabbitmq: {connectionSecretRef: {name: broker-b}}
)";

TEST(CrdValidatorTest, RabbitMqMirrorTakesKeepUserIdAndDefinitionsWithSecretsAndDefaults) {
  json fn = yaml(kRabbitMqMirror);
  auto errors = CrdValidator::builtin().validate(fn);
  EXPECT_TRUE(errors.empty()) << errors.front().message;
  const json& definitions = fn["spec"]["pipeline"][0]["mirror"]["definitions"];
  EXPECT_EQ(definitions["interval"], "30s");
  EXPECT_EQ(definitions["prune"], false);
  EXPECT_EQ(definitions["sourceManagementSecretRef"]["key"], "managementUrl");
  // A password is never in the spec: the schema has no field for one.
  fn = yaml(kRabbitMqMirror);
  fn["spec"]["pipeline"][0]["mirror"]["definitions"]["sourceManagementUrl"] = "http://guest:guest@a:15672";
  fn["spec"]["pipeline"][0]["mirror"]["definitions"].erase("targetManagementSecretRef");
  EXPECT_EQ(sorted(messages(fn)),
            sorted({"unknown field \"spec.pipeline[0].mirror.definitions.sourceManagementUrl\"",
                    "spec.pipeline[0].mirror.definitions.targetManagementSecretRef: Required value"}));
  fn = yaml(kRabbitMqMirror);
  fn["spec"]["pipeline"][0]["mirror"]["definitions"]["interval"] = "500ms";
  EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.pipeline[0].mirror.definitions.interval: Invalid value: "
                                                   "\"500ms\": must be at least 1s"});
}

TEST(CrdValidatorTest, AKafkaMirrorIsRefusedTheRabbitMqOnlyFieldsNamingThem) {
  json fn = yaml(kRabbitMqMirror);
  fn["spec"]["outputs"] = json::array({{{"kafka", {{"bootstrapServers", {"k:9092"}}, {"topic", "copy"}}}}});
  EXPECT_EQ(messages(fn), (std::vector<std::string>{
                              "spec.pipeline[0].mirror.keepUserId: Invalid value: true: only a RabbitMQ mirror keeps "
                              "the user id (spec.outputs[0] is kafka)",
                              "spec.pipeline[0].mirror.definitions: Invalid value: \"object\": only a RabbitMQ mirror "
                              "syncs queues, exchanges and bindings (spec.outputs[0] is kafka)"}));
}

// spec.pod may not claim Sluice's label keys nor leave the restricted Pod Security Standard.
TEST(CrdValidatorTest, PodOverridesKeepReservedKeysAndTheRestrictedStandard) {
  json fn = yaml(kFunction);
  fn["spec"]["pod"] = {{"labels", {{"team", "etl"}, {"sluice.io/function", "other"}}},
                       {"annotations",
                        {{"app.kubernetes.io/managed-by", "me"},
                         {"container.apparmor.security.beta.kubernetes.io/runtime", "unconfined"}}},
                       {"securityContext",
                        {{"runAsUser", 0},
                         {"runAsNonRoot", false},
                         {"privileged", true},
                         {"seccompProfile", {{"type", "Unconfined"}}}}}};
  auto got = messages(fn);
  std::vector<std::string> want = {
      "spec.pod.labels: Invalid value: \"object\": keys under sluice.io/ and app.kubernetes.io/managed-by are "
      "reserved for Sluice",
      "spec.pod.annotations: Invalid value: \"object\": keys under sluice.io/ and app.kubernetes.io/managed-by are "
      "reserved for Sluice",
      "spec.pod.annotations: Invalid value: \"object\": seccomp annotations and AppArmor annotations other than "
      "runtime/default or localhost/ leave the restricted Pod Security Standard",
      "spec.pod.securityContext.runAsUser: Invalid value: \"integer\": runAsUser 0 (root) leaves the restricted Pod "
      "Security Standard",
      "spec.pod.securityContext.runAsNonRoot: Invalid value: \"boolean\": runAsNonRoot false leaves the restricted "
      "Pod Security Standard",
      "unknown field \"spec.pod.securityContext.privileged\"",
      "spec.pod.securityContext.seccompProfile.type: Unsupported value: \"Unconfined\": supported values: "
      "\"RuntimeDefault\", \"Localhost\"",
  };
  EXPECT_EQ(sorted(got), sorted(want));

  fn["spec"]["pod"] = {{"labels", {{"team", "etl"}, {"example.com/sluice.io", "x"}}},
                       {"annotations", {{"container.apparmor.security.beta.kubernetes.io/runtime", "runtime/default"}}},
                       {"securityContext",
                        {{"runAsUser", 1000},
                         {"runAsNonRoot", true},
                         {"fsGroup", 2000},
                         {"seccompProfile", {{"type", "RuntimeDefault"}}}}}};
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
}

// batchSize above the (defaulted) maxInFlight could never fill a batch.
TEST(CrdValidatorTest, HttpScalingTargetsAsyncQueueAndBurstWindowsAsTheApiserverSaysThem) {
  const std::string trigger = R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
)";
  EXPECT_EQ(messages(yaml(trigger + "  http: {path: /x, targetConcurrency: 2, targetRequestsPerSecond: 10}\n")),
            std::vector<std::string>{"spec.http: Invalid value: \"object\": spec.http sets targetConcurrency or "
                                     "targetRequestsPerSecond, not both"});
  EXPECT_EQ(messages(yaml(trigger + "  http: {path: /x, targetRequestsPerSecond: 0}\n")),
            std::vector<std::string>{"spec.http.targetRequestsPerSecond: Invalid value: 0: "
                                     "spec.http.targetRequestsPerSecond in body should be greater than 0"});
  EXPECT_EQ(messages(yaml(trigger + "  http: {path: /x, async: {rabbitmq: {connectionSecretRef: {name: r}, queue: "
                                    "amq.x}}}\n")),
            std::vector<std::string>{"spec.http.async.rabbitmq: Invalid value: \"object\": "
                                     "spec.http.async.rabbitmq.queue may not start with \"amq.\" (RabbitMQ reserves "
                                     "those names)"});
  EXPECT_TRUE(messages(yaml(trigger + "  http: {path: /x, targetRequestsPerSecond: 2.5, async: {rabbitmq: "
                                      "{connectionSecretRef: {name: r}, queue: orders}}}\n"))
                  .empty());
  const std::vector<std::string> oneBroker{
      "spec.http.async: Invalid value: \"object\": spec.http.async sets exactly one of rabbitmq or kafka"};
  EXPECT_EQ(messages(yaml(trigger + "  http: {path: /x, async: {rabbitmq: {connectionSecretRef: {name: r}, queue: q}, "
                                    "kafka: {bootstrapServers: ['k:9092'], topic: t}}}\n")),
            oneBroker);
  EXPECT_EQ(messages(yaml(trigger + "  http: {path: /x, async: {}}\n")), oneBroker);
  EXPECT_TRUE(messages(yaml(trigger + "  http: {path: /x, async: {kafka: {bootstrapServers: ['k:9092'], topic: t, "
                                      "sasl: {mechanism: PLAIN, secretRef: {name: s}}}}}\n"))
                  .empty());
  EXPECT_EQ(
      messages(yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: f}
spec:
  runtime: python3.11
  code: {inline: "x"}
  scaling: {burst: {windowSeconds: 30, stableWindowSeconds: 10}}
)")),
      std::vector<std::string>{"spec.scaling.burst: Invalid value: \"object\": spec.scaling.burst.stableWindowSeconds "
                               "must be at least burst.windowSeconds (the panic window)"});
}

TEST(CrdValidatorTest, DeliveryBatchSizeMustNotExceedMaxInFlight) {
  const char* kTrigger = R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  kafka: {bootstrapServers: ["127.0.0.1:9092"], topics: [t], consumerGroup: g}
  delivery: {batchSize: 500}
)";
  EXPECT_EQ(messages(yaml(kTrigger)),
            std::vector<std::string>{
                "spec.delivery: Invalid value: \"object\": delivery.maxInFlight must be at least delivery.batchSize"});
  json ok = yaml(kTrigger);
  ok["spec"]["delivery"]["maxInFlight"] = 500;
  EXPECT_EQ(messages(ok), std::vector<std::string>{});
}

// amqps://: tls names keys of the connection Secret; a client certificate goes with its key, on a
// Trigger's queue and on a Function's output alike.
TEST(CrdValidatorTest, RabbitMqTlsKeysComeInPairsForTheClientCertificate) {
  const char* kTrigger = R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  rabbitmq: {connectionSecretRef: {name: amqp}, queue: q, tls: {caKey: ca.crt, certKey: tls.crt, keyKey: tls.key}}
)";
  EXPECT_EQ(messages(yaml(kTrigger)), std::vector<std::string>{});
  json bad = yaml(kTrigger);
  bad["spec"]["rabbitmq"]["tls"].erase("keyKey");
  bad["spec"]["rabbitmq"]["tls"]["caKey"] = "";
  EXPECT_EQ(sorted(messages(bad)),
            (std::vector<std::string>{
                "spec.rabbitmq.tls.caKey: Invalid value: \"\": spec.rabbitmq.tls.caKey in body should be at least 1 "
                "chars long",
                "spec.rabbitmq.tls: Invalid value: \"object\": certKey and keyKey go together (a client certificate "
                "and its key)"}));
  json function = yaml(kFunction);
  function["spec"]["outputs"] = json::array(
      {{{"name", "out"},
        {"rabbitmq", {{"connectionSecretRef", {{"name", "amqp"}}}, {"routingKey", "q"}, {"tls", {{"keyKey", "k"}}}}}}});
  EXPECT_EQ(messages(function),
            std::vector<std::string>{"spec.outputs[0].rabbitmq.tls: Invalid value: \"object\": certKey and keyKey go "
                                     "together (a client certificate and its key)"});
}

TEST(CrdValidatorTest, TriggerBindingsRetryDeadLetterAndOrderingAreCheckedNamingTheField) {
  const char* kTrigger = R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  rabbitmq: {connectionSecretRef: {name: amqp}, queue: orders, exchange: shop, routingKeys: [orders.created]}
  delivery:
    ordering: partition
    retry: {maxAttempts: 1, initialBackoff: 100ms, maxBackoff: 2s, multiplier: 2}
    deadLetter: {dir: {path: /tmp/dlq}}
)";
  EXPECT_EQ(messages(yaml(kTrigger)), std::vector<std::string>{});
  json bad = yaml(kTrigger);
  bad["spec"]["rabbitmq"].erase("exchange");
  bad["spec"]["delivery"]["ordering"] = "key";
  bad["spec"]["delivery"]["retry"]["maxAttempts"] = 0;
  bad["spec"]["delivery"]["retry"]["initialBackoff"] = "soon";
  bad["spec"]["delivery"]["deadLetter"]["http"] = {{"url", "http://127.0.0.1:1/"}};
  std::vector<std::string> want = {
      "spec.delivery.deadLetter: Invalid value: \"object\": spec.delivery.deadLetter must set exactly one of kafka, "
      "rabbitmq, http, s3 or dir",
      "spec.delivery.ordering: Unsupported value: \"key\": supported values: \"partition\", \"none\"",
      "spec.delivery.retry.initialBackoff: Invalid value: \"soon\": spec.delivery.retry.initialBackoff in body should "
      "match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'",
      "spec.delivery.retry.maxAttempts: Invalid value: 0: spec.delivery.retry.maxAttempts in body should be greater "
      "than or equal to 1",
      "spec.rabbitmq: Invalid value: \"object\": spec.rabbitmq.routingKeys needs spec.rabbitmq.exchange",
  };
  EXPECT_EQ(sorted(messages(bad)), sorted(want));
}

TEST(CrdValidatorTest, BuiltinWithoutPipelineAndTriggerWithTwoSources) {
  json fn = yaml(kFunction);
  fn["spec"].erase("pipeline");
  EXPECT_EQ(messages(fn), std::vector<std::string>{
                              "spec.pipeline: Invalid value: \"object\": runtime builtin needs a non-empty pipeline"});

  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  http: {path: /x}
  cron: {schedule: "every day"}
)");
  auto got = messages(trigger);
  std::vector<std::string> want = {
      "spec: Invalid value: \"object\": spec must set exactly one source: kafka, rabbitmq, cron, http, objectStore or "
      "prometheus",
      "spec.cron.schedule: Invalid value: \"string\": must be five cron fields (minute hour day-of-month month "
      "day-of-week) or one of @yearly, @monthly, @weekly, @daily, @hourly",
  };
  EXPECT_EQ(sorted(got), sorted(want));
}

TEST(CrdValidatorTest, RequiredFieldsAndObjectStoreRules) {
  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  objectStore: {type: dir}
)");
  auto got = messages(trigger);
  std::vector<std::string> want = {"spec.functionRef: Required value",
                                   "spec.objectStore: Invalid value: \"object\": objectStore of type dir needs path"};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

TEST(CrdValidatorTest, WebHdfsNeedsAnHttpEndpoint) {
  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: f}
  objectStore: {type: webhdfs, endpoint: 'https://namenode:9871', path: /logs/in}
)");
  EXPECT_EQ(messages(trigger), std::vector<std::string>{"spec.objectStore: Invalid value: \"object\": objectStore of "
                                                        "type webhdfs needs an http:// endpoint (https/swebhdfs is "
                                                        "not supported)"});
  trigger["spec"]["objectStore"]["endpoint"] = "http://127.0.0.1:9870";
  EXPECT_TRUE(messages(trigger).empty());
}

TEST(CrdValidatorTest, KindApiVersionAndName) {
  EXPECT_EQ(messages(yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")),
            std::vector<std::string>{"kind: Unsupported value: \"Pod\": supported values: Function, Trigger"});
  EXPECT_EQ(messages(yaml("apiVersion: sluice.io/v1\nkind: Function\nmetadata: {name: p}\n")),
            std::vector<std::string>{"apiVersion: Unsupported value: \"sluice.io/v1\": supported values: "
                                     "\"sluice.io/v1alpha1\""});
  json fn = yaml(kFunction);
  fn["metadata"]["name"] = "Bad_Name";
  ASSERT_EQ(messages(fn).size(), 1u);
  EXPECT_EQ(messages(fn)[0].rfind("metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", 0), 0u);
}

// What the schema cannot see (semantics.h), once it has passed: the same
// validator, so `sluice check` and the admission webhook refuse these too.
TEST(CrdValidatorTest, RegexesThatDoNotCompileAreNamedAtTheirStep) {
  json fn = yaml(kFunction);
  fn["spec"]["pipeline"] = json::array({json::object({{"parse", {{"format", "regex"}, {"pattern", "(?P<a>x"}}}}),
                                        json::object({{"mask", {{"field", "msg"}, {"pattern", "[0-9"}}}})});
  EXPECT_EQ(
      messages(fn),
      (std::vector<std::string>{
          "spec.pipeline[0].parse.pattern: Invalid value: \"(?P<a>x\": invalid regular expression: missing ): (?P<a>x",
          "spec.pipeline[1].mask.pattern: Invalid value: \"[0-9\": invalid regular expression: missing ]: [0-9"}));
  fn["spec"]["pipeline"][0]["parse"]["pattern"] = "^(?P<level>[A-Z]+) (?P<msg>.*)$";
  fn["spec"]["pipeline"][1]["mask"]["pattern"] = "[0-9]+";
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
}

TEST(CrdValidatorTest, PipelineStepsTheRuntimeCouldNotLoadAreRefused) {
  json fn = yaml(kFunction);
  fn["spec"]["pipeline"] = json::array({json::object({{"parse", {{"format", "regex"}, {"pattern", "([A-Z]+) (.*)"}}}}),
                                        json::object({{"filter", {{"expression", "level == "}}}}),
                                        json::object({{"map", {{"fields", {{"out", "lower(level"}}}}}})});
  EXPECT_EQ(messages(fn), (std::vector<std::string>{
                              "spec.pipeline[0].parse.pattern: Invalid value: \"([A-Z]+) (.*)\": needs at least one "
                              "named group such as (?P<level>\\w+)",
                              "spec.pipeline[1].filter.expression: Invalid value: \"level == \": " +
                                  runtime::Expression::compile("level == ").status().message(),
                              "spec.pipeline[2].map.fields.out: Invalid value: \"lower(level\": " +
                                  runtime::Expression::compile("lower(level").status().message()}));
  fn["spec"]["pipeline"][0]["parse"]["format"] = "json";  // the pattern is not read then
  fn["spec"]["pipeline"][1]["filter"]["expression"] = "level == \"ERROR\" && status >= 500";
  fn["spec"]["pipeline"][2]["map"]["fields"]["out"] = "lower(level)";
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
}

TEST(CrdValidatorTest, CronFieldsOutOfRangeAndUnknownZonesAreRefused) {
  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  cron: {schedule: "0 24 * * *", timezone: Europe/Atlantis}
)");
  EXPECT_EQ(messages(trigger), (std::vector<std::string>{
                                   "spec.cron.schedule: Invalid value: \"0 24 * * *\": cron schedule \"0 24 * * *\": "
                                   "hour: 24 is outside 0..23",
                                   "spec.cron.timezone: Invalid value: \"Europe/Atlantis\": unknown time zone "
                                   "\"Europe/Atlantis\""}));
  trigger["spec"]["cron"] = {{"schedule", "*/0 * 32 * *"}};
  EXPECT_EQ(messages(trigger), std::vector<std::string>{"spec.cron.schedule: Invalid value: \"*/0 * 32 * *\": cron "
                                                        "schedule \"*/0 * 32 * *\": minute: step 0 in \"*/0\""});
  trigger["spec"]["cron"] = {{"schedule", "0 0 99999999999 * *"}};
  EXPECT_EQ(messages(trigger).size(), 1u);  // a number too long for an int is an error, not an exception
  for (const char* good : {"@daily", "*/15 8-17 * * 1-5", "0 0 1 1 7"}) {
    trigger["spec"]["cron"] = {{"schedule", good}, {"timezone", "America/New_York"}};
    EXPECT_EQ(messages(trigger), std::vector<std::string>{}) << good;
  }
}

TEST(CrdValidatorTest, KafkaTopicsDotAndDotDotAreRefusedWhereverNamed) {
  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  kafka: {bootstrapServers: ["k:9092"], topics: [orders, ".."], consumerGroup: g}
)");
  EXPECT_EQ(messages(trigger), std::vector<std::string>{"spec.kafka.topics[1]: Invalid value: \"..\": a Kafka topic "
                                                        "cannot be \".\" or \"..\""});
  trigger["spec"]["kafka"]["topics"][1] = "..orders";
  EXPECT_EQ(messages(trigger), std::vector<std::string>{});
}

TEST(CrdValidatorTest, AnInitialBackoffLongerThanTheMaxIsRefused) {
  json fn = yaml(kFunction);
  fn["spec"]["retry"] = {{"initialBackoff", "1m"}};  // maxBackoff defaults to 30s
  EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.retry.initialBackoff: Invalid value: \"1m\": longer than "
                                                   "maxBackoff \"30s\""});
  fn["spec"]["retry"] = {{"initialBackoff", "1m"}, {"maxBackoff", "1m0.5s"}};
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
  json trigger = yaml(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}
spec:
  functionRef: {name: fn}
  cron: {schedule: "@hourly"}
  delivery: {retry: {initialBackoff: 1h, maxBackoff: 59m59s}}
)");
  EXPECT_EQ(messages(trigger), std::vector<std::string>{"spec.delivery.retry.initialBackoff: Invalid value: \"1h\": "
                                                        "longer than maxBackoff \"59m59s\""});
}

// The handler server of spec.protocol http shares the pod's network with the runtime: not on its ports.
TEST(CrdValidatorTest, AnHttpHandlersPortIsNotOneOfTheRuntimes) {
  json fn = yaml(kFunction);
  fn["spec"].erase("code");
  fn["spec"].erase("pipeline");
  fn["spec"]["runtime"] = "python3.11";
  fn["spec"]["image"] = "registry.example/team/node-handler:1";
  fn["spec"]["protocol"] = "http";
  EXPECT_EQ(messages(fn), std::vector<std::string>{}) << "the default port (8000)";
  for (int port : {8080, 8090}) {
    fn["spec"]["http"] = {{"port", port}};
    EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.http.port: Invalid value: \"object\": spec.http.port must "
                                                     "not be 8080 or 8090, the Sluice runtime's own data and control "
                                                     "ports in the same pod"})
        << port;
  }
  fn["spec"]["http"] = {{"port", 3000}};
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
}

TEST(CrdValidatorTest, ImageReferencesMustParse) {
  json fn = yaml(kFunction);
  for (const char* good : {"python", "localhost/sluice-runtime-python:0.1.0", "registry.example.com:5000/team/fn:v1.2",
                           "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
    fn["spec"]["image"] = good;
    EXPECT_EQ(messages(fn), std::vector<std::string>{}) << good;
  }
  fn["spec"]["image"] = "team/Fn:latest";
  EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.image: Invalid value: \"team/Fn:latest\": not an image "
                                                   "reference ([registry[:port]/]lower-case/path[:tag][@digest])"});
  fn["spec"]["image"] = "app:two:tags";
  EXPECT_EQ(messages(fn).size(), 1u);
  // A first component without a dot or port is a path, not a registry host: its upper case is refused.
  for (const char* bad : {"Team/fn:v1", "Library/nginx"}) {
    fn["spec"]["image"] = bad;
    EXPECT_EQ(messages(fn).size(), 1u) << bad;
  }
  for (const char* good : {"Registry.Example.com/team/fn", "kind-registry:5000/fn", "localhost:5000/fn"}) {
    fn["spec"]["image"] = good;
    EXPECT_EQ(messages(fn), std::vector<std::string>{}) << good;
  }
}

// Inline Python is compiled (not run) once a binary installed an interpreter, as the operator and
// the sluice CLI do; the message names the line rather than repeating the code.
TEST(CrdValidatorTest, InlinePythonThatDoesNotCompileIsRefusedOnceACheckIsInstalled) {
  json fn = yaml(kFunction);
  fn["spec"].erase("pipeline");
  fn["spec"]["runtime"] = "python3.11";
  fn["spec"]["code"] = {{"inline", "def main_handler(event, context):\n    return event +\n"}};
  setPythonSyntaxCheck(nullptr);
  EXPECT_EQ(messages(fn), std::vector<std::string>{}) << "no interpreter installed: not compiled here";
  setPythonSyntaxCheck(&python_syntax::check);
  EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.code.inline: Invalid value: SyntaxError: invalid syntax "
                                                   "(index.py, line 2)"});
  fn["spec"]["code"]["inline"] = "def main_handler(event, context):\n  return event\n";
  EXPECT_EQ(messages(fn), std::vector<std::string>{});
  fn["spec"]["code"]["inline"] = "def main_handler(event, context):\n\treturn event\n        pass\n";
  EXPECT_EQ(messages(fn), std::vector<std::string>{"spec.code.inline: Invalid value: TabError: inconsistent use of "
                                                   "tabs and spaces in indentation (index.py, line 3)"});
  EXPECT_EQ(python_syntax::check(std::string("x = 1\0", 6)), "SyntaxError: source code cannot contain null bytes");
  setPythonSyntaxCheck(nullptr);
}

TEST(FieldPathTest, IndexesInBrackets) {
  EXPECT_EQ(fieldPath("/spec/pipeline/1/parse"), "spec.pipeline[1].parse");
  EXPECT_EQ(fieldPath("/spec"), "spec");
}

}  // namespace
}  // namespace sluice::api::v1alpha1
