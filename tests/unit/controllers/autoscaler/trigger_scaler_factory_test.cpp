// TriggerScalerFactory: Trigger specs and their Secrets into scalers; the
// HTTP scalers are checked through the requests they make on a fake getter.
#include "controllers/autoscaler/trigger_scaler_factory.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "fakes/fake_url_http_client.h"
#include "kube/resource.h"
#include "scalers/cpu_scaler.h"
#include "scalers/cron_scaler.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;

class TriggerScalerFactoryTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  testing::FakeResourceClient client{clock};
  std::shared_ptr<testing::FakeUrlHttpClient> http = std::make_shared<testing::FakeUrlHttpClient>();
  TriggerScalerFactory factory{client, http, clock};

  // A Secret that opted in to scaler access (the label), unless `metadata` says otherwise.
  void secret(const std::string& name, const std::map<std::string, std::string>& data,
              json metadata = {{"labels", {{api::v1alpha1::kScalerAccessKey, "true"}}}}) {
    json encoded = json::object();
    for (const auto& [k, v] : data) encoded[k] = base64Encode(v);
    metadata["name"] = name;
    ASSERT_TRUE(client.create(kube::resources::kSecrets, "etl", {{"metadata", metadata}, {"data", encoded}}).isOk());
  }
  static json trigger(const json& source) {
    json spec = {{"functionRef", {{"name", "orders"}}}};
    spec.update(source);
    return {{"metadata", {{"name", "t"}, {"namespace", "etl"}}}, {"spec", spec}};
  }
};

TEST_F(TriggerScalerFactoryTest, SourceTypes) {
  EXPECT_EQ(triggerSourceType(trigger({{"kafka", json::object()}})), "kafka");
  EXPECT_EQ(triggerSourceType(trigger({{"objectStore", json::object()}})), "objectStore");
  EXPECT_EQ(triggerSourceType(json::object()), "");
}

TEST_F(TriggerScalerFactoryTest, RabbitMQReadsTheManagementUrlAndVhostFromTheSecret) {
  secret("rabbit",
         {{"url", "amqp://u:p@127.0.0.1:5672/orders%2Fprod"}, {"managementUrl", "http://u:p@127.0.0.1:15672"}});
  auto scaler = factory.create(
      trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "jobs"}, {"queueLength", 5}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  ASSERT_TRUE(*scaler);
  EXPECT_EQ((*scaler)->target().target, 5);
  http->answer("http://u:p@127.0.0.1:15672/api/queues/orders%2Fprod/jobs", 200,
               R"({"messages": 12, "messages_ready": 7})");
  auto reading = (*scaler)->read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 12);
  EXPECT_TRUE(reading->active);
}

TEST_F(TriggerScalerFactoryTest, RabbitMQNeedsTheAmqpOrTheManagementUrl) {
  secret("rabbit", {{"password", "p"}});
  auto scaler =
      factory.create(trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "jobs"}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().message(),
            "spec.rabbitmq.connectionSecretRef: Secret etl/rabbit has neither key url (AMQP URL) nor managementUrl "
            "(management API URL)");
}

TEST_F(TriggerScalerFactoryTest, RabbitMQWithOnlyTheAmqpUrlUsesPassiveDeclare) {
  // Nothing listens on port 1: the read fails on the AMQP connect, never over HTTP.
  secret("rabbit", {{"url", "amqp://u:p@127.0.0.1:1/%2f"}});
  auto scaler =
      factory.create(trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "jobs"}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  auto reading = (*scaler)->read();
  ASSERT_FALSE(reading.isOk());
  EXPECT_EQ(reading.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reading.status().message().find("rabbitmq amqp://127.0.0.1:1/%2f: connect: "), std::string::npos)
      << reading.status().message();
  EXPECT_TRUE(http->asked.empty());
}

TEST_F(TriggerScalerFactoryTest, MissingSecretIsAnError) {
  auto scaler =
      factory.create(trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "nope"}}}, {"queue", "jobs"}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().code(), StatusCode::kNotFound);
  EXPECT_NE(scaler.status().message().find("Secret etl/nope"), std::string::npos) << scaler.status().message();
}

TEST_F(TriggerScalerFactoryTest, KafkaSaslNeedsUsernameAndPasswordInTheSecret) {
  secret("kafka-creds", {{"username", "alice"}});
  auto scaler =
      factory.create(trigger({{"kafka",
                               {{"bootstrapServers", {"127.0.0.1:9092"}},
                                {"topics", {"orders"}},
                                {"consumerGroup", "g"},
                                {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-creds"}}}}}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().message(), "spec.kafka.sasl.secretRef: Secret etl/kafka-creds has no key password");
}

TEST_F(TriggerScalerFactoryTest, KafkaScalerCarriesTheTriggerSettings) {
  auto scaler = factory.create(trigger({{"kafka",
                                         {{"bootstrapServers", {"127.0.0.1:9092", "127.0.0.1:9093"}},
                                          {"topics", {"orders", "refunds"}},
                                          {"consumerGroup", "billing"},
                                          {"lagThreshold", 50},
                                          {"activationLagThreshold", 3}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  EXPECT_EQ((*scaler)->name(), "kafka/billing/orders,refunds");
  EXPECT_EQ((*scaler)->target().target, 50);
  EXPECT_EQ((*scaler)->target().activationThreshold, 3);
}

TEST_F(TriggerScalerFactoryTest, KafkaRejectsAnUnknownInitialOffset) {
  auto scaler = factory.create(trigger({{"kafka",
                                         {{"bootstrapServers", {"127.0.0.1:9092"}},
                                          {"topics", {"orders"}},
                                          {"consumerGroup", "g"},
                                          {"initialOffset", "middle"}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().message(), "spec.kafka.initialOffset: \"middle\" is not earliest or latest");
}

TEST_F(TriggerScalerFactoryTest, S3CountsWithCredentialsFromTheSecret) {
  secret("s3", {{"accessKey", "AK"}, {"secretKey", "SK"}});
  auto scaler = factory.create(trigger({{"objectStore",
                                         {{"type", "s3"},
                                          {"endpoint", "http://127.0.0.1:9000"},
                                          {"bucket", "inbox"},
                                          {"prefix", "in/"},
                                          {"targetObjectCount", 2},
                                          {"credentialsSecretRef", {{"name", "s3"}}}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  EXPECT_EQ((*scaler)->name(), "objects/s3://inbox/in/");
  EXPECT_EQ((*scaler)->target().target, 2);
  (void)(*scaler)->read();
  ASSERT_EQ(http->asked.size(), 1u);
  EXPECT_NE(http->asked[0].find("http://127.0.0.1:9000/inbox?list-type=2"), std::string::npos) << http->asked[0];
}

// A Secret the operator would send to the Trigger's endpoint must opt in; without the
// label or annotation no scaler is built, so nothing is ever sent.
TEST_F(TriggerScalerFactoryTest, SecretsWithoutScalerAccessAreNotUsed) {
  secret("s3", {{"accessKey", "AK"}, {"secretKey", "SK"}}, json::object());
  secret("kafka-user", {{"username", "u"}, {"password", "p"}}, {{"labels", {{"sluice.io/scaler-access", "false"}}}});
  secret("rabbit", {{"url", "amqp://u:p@127.0.0.1:5672/%2f"}},
         {{"annotations", {{api::v1alpha1::kScalerAccessKey, "true"}}}});
  auto s3 = factory.create(trigger({{"objectStore",
                                     {{"type", "s3"},
                                      {"endpoint", "http://127.0.0.1:9000"},
                                      {"bucket", "inbox"},
                                      {"credentialsSecretRef", {{"name", "s3"}}}}}}));
  ASSERT_FALSE(s3.isOk());
  EXPECT_EQ(s3.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s3.status().message(),
            "spec.objectStore.credentialsSecretRef: Secret etl/s3 lacks the label sluice.io/scaler-access=\"true\", so "
            "the operator does not use its credentials to measure this Trigger (label or annotate the Secret to allow "
            "it)");
  auto kafka =
      factory.create(trigger({{"kafka",
                               {{"bootstrapServers", json::array({"127.0.0.1:9"})},
                                {"topics", json::array({"orders"})},
                                {"consumerGroup", "g"},
                                {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-user"}}}}}}}}));
  ASSERT_FALSE(kafka.isOk());
  EXPECT_EQ(kafka.status().message().rfind("spec.kafka.sasl.secretRef: Secret etl/kafka-user lacks the label", 0), 0u)
      << kafka.status().message();
  EXPECT_TRUE(http->asked.empty());
  // The annotation opts in as well as the label.
  auto rabbit =
      factory.create(trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "jobs"}}}}));
  EXPECT_TRUE(rabbit.isOk()) << rabbit.status().toString();
}

TEST_F(TriggerScalerFactoryTest, AnAllowListRefusesOtherEndpointsBeforeConnecting) {
  TriggerScalerFactoryOptions options;
  options.allowedEndpoints = *scalers::EndpointAllowList::parse({"*.data.svc", "127.0.0.1:9090"});
  TriggerScalerFactory limited{client, http, clock, options};
  auto prometheus = limited.create(
      trigger({{"prometheus", {{"serverAddress", "http://127.0.0.1:9091"}, {"query", "up"}, {"threshold", 1}}}}));
  ASSERT_FALSE(prometheus.isOk());
  EXPECT_EQ(prometheus.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(prometheus.status().message(),
            "spec.prometheus.serverAddress: http://127.0.0.1:9091 is not in the operator's scaler endpoint allow-list "
            "(--scaler-endpoint-allow); the scaler does not connect to it");
  EXPECT_TRUE(limited
                  .create(trigger({{"prometheus",
                                    {{"serverAddress", "http://127.0.0.1:9090"}, {"query", "up"}, {"threshold", 1}}}}))
                  .isOk());
  auto kafka =
      limited.create(trigger({{"kafka",
                               {{"bootstrapServers", json::array({"kafka.data.svc:9092", "evil.example:9092"})},
                                {"topics", json::array({"orders"})},
                                {"consumerGroup", "g"}}}}));
  ASSERT_FALSE(kafka.isOk());
  EXPECT_EQ(kafka.status().message().rfind("spec.kafka.bootstrapServers: evil.example:9092 is not in", 0), 0u)
      << kafka.status().message();
  secret("rabbit", {{"url", "amqp://u:p@rabbit.elsewhere:5672/%2f"}});
  auto rabbit =
      limited.create(trigger({{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "jobs"}}}}));
  ASSERT_FALSE(rabbit.isOk());
  EXPECT_EQ(rabbit.status().message().rfind("spec.rabbitmq.connectionSecretRef url: amqp://rabbit.elsewhere:5672 is "
                                            "not in",
                                            0),
            0u)
      << rabbit.status().message() << " (and the password is not shown)";
}

// Every HTTP read of the scalers carries the response cap.
TEST_F(TriggerScalerFactoryTest, HttpReadsCarryTheResponseLimit) {
  TriggerScalerFactoryOptions options;
  options.maxResponseBytes = 4096;
  TriggerScalerFactory limited{client, http, clock, options};
  auto scaler = limited.create(
      trigger({{"prometheus", {{"serverAddress", "http://127.0.0.1:9090"}, {"query", "up"}, {"threshold", 1}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  (void)(*scaler)->read();
  (void)factory
      .create(
          trigger({{"prometheus", {{"serverAddress", "http://127.0.0.1:9090"}, {"query", "up"}, {"threshold", 1}}}}))
      ->get()
      ->read();
  EXPECT_EQ(http->limits, (std::vector<uint64_t>{4096, TriggerScalerFactoryOptions::kDefaultMaxScalerResponseBytes}));
}

TEST_F(TriggerScalerFactoryTest, PrometheusQuery) {
  auto scaler = factory.create(trigger(
      {{"prometheus", {{"serverAddress", "http://127.0.0.1:9090"}, {"query", "sum(up)"}, {"threshold", 2.5}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  EXPECT_EQ((*scaler)->target().target, 2.5);
  EXPECT_EQ((*scaler)->name(), "prometheus/sum(up)");
}

TEST_F(TriggerScalerFactoryTest, HttpHasNothingToMeasure) {
  auto scaler = factory.create(trigger({{"http", {{"path", "/orders"}}}}));
  ASSERT_TRUE(scaler.isOk());
  EXPECT_FALSE(*scaler);
}

TEST_F(TriggerScalerFactoryTest, WrongFieldTypeNamesTheSource) {
  auto scaler = factory.create(trigger({{"prometheus", {{"serverAddress", "http://127.0.0.1:9090"}, {"query", 5}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scaler.status().message().rfind("spec.prometheus: ", 0), 0u) << scaler.status().message();
}

TEST_F(TriggerScalerFactoryTest, CronTriggerWakesOneReplicaForTheTickMinute) {
  // FakeClock's wall time starts at a whole hour (UTC).
  auto scaler = factory.create(trigger({{"cron", {{"schedule", "@hourly"}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  auto reading = (*scaler)->read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_TRUE(reading->active);
  EXPECT_EQ(reading->minReplicas, 1);
  clock.advance(std::chrono::seconds(61));
  reading = (*scaler)->read();
  EXPECT_FALSE(reading->active);
  EXPECT_EQ(reading->minReplicas, 0);
}

TEST_F(TriggerScalerFactoryTest, CronWindowHoldsTheReplicaFloor) {
  auto scaler =
      factory.create(trigger({{"cron", {{"schedule", "0 * * * *"}, {"replicas", 3}, {"windowSeconds", 600}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  clock.advance(std::chrono::seconds(599));
  EXPECT_EQ((*scaler)->read()->minReplicas, 3);
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ((*scaler)->read()->minReplicas, 0);
}

TEST_F(TriggerScalerFactoryTest, CronFloorEndsWhenTheTriggerSaysTheFiringIsSettled) {
  std::map<std::string, std::chrono::system_clock::time_point> settled;
  TriggerScalerFactoryOptions options;
  options.cronSettledBefore = [&settled](
                                  const std::string& ns,
                                  const std::string& name) -> std::optional<std::chrono::system_clock::time_point> {
    auto it = settled.find(ns + "/" + name);
    if (it == settled.end()) return std::nullopt;
    return it->second;
  };
  TriggerScalerFactory withStatus{client, http, clock, options};
  auto scaler = withStatus.create(trigger({{"cron", {{"schedule", "@hourly"}}}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ((*scaler)->read()->minReplicas, 1) << "the Trigger is not in the cache: nothing known settled";
  const auto firing = clock.wallNow() - std::chrono::seconds(5);
  settled["etl/t"] = firing;
  EXPECT_EQ((*scaler)->read()->minReplicas, 1) << "settled before the firing only";
  settled["etl/t"] = firing + std::chrono::seconds(1);
  auto reading = (*scaler)->read();
  EXPECT_EQ(reading->minReplicas, 0);
  EXPECT_FALSE(reading->active);
}

TEST_F(TriggerScalerFactoryTest, CronErrorsNameTheField) {
  auto scaler = factory.create(trigger({{"cron", {{"schedule", "0 * * * *"}, {"timezone", "Mars/Olympus"}}}}));
  ASSERT_FALSE(scaler.isOk());
  EXPECT_EQ(scaler.status().message(), "spec.cron: cron timezone: unknown time zone \"Mars/Olympus\"");
}

TEST(AmqpVhostTest, DecodesThePath) {
  EXPECT_EQ(*amqpVhost("amqp://u:p@127.0.0.1:5672/%2f"), "/");
  EXPECT_EQ(*amqpVhost("amqp://u:p@127.0.0.1:5672"), "/");
  EXPECT_EQ(*amqpVhost("amqp://127.0.0.1/"), "/");
  EXPECT_EQ(*amqpVhost("amqps://127.0.0.1/prod?heartbeat=10"), "prod");
  EXPECT_FALSE(amqpVhost("127.0.0.1/prod").isOk());
  EXPECT_EQ(amqpVhost("amqp://h/%zz").status().message(), "AMQP URL vhost \"%zz\" has a bad %-escape");
}

TEST(CronMacroTest, Expands) {
  EXPECT_EQ(scalers::expandCronMacro("@daily"), "0 0 * * *");
  EXPECT_EQ(scalers::expandCronMacro("@weekly"), "0 0 * * 0");
  EXPECT_EQ(scalers::expandCronMacro("*/5 * * * *"), "*/5 * * * *");
}

TEST(CpuQuantityTest, MillicoresAndCores) {
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("2"), 2);
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("1.5"), 1.5);
  EXPECT_EQ(scalers::parseCpuQuantity("lots").status().message(),
            "\"lots\" is not a positive CPU quantity such as 500m or 2");
  EXPECT_FALSE(scalers::parseCpuQuantity("0").isOk());
  EXPECT_FALSE(scalers::parseCpuQuantity("m").isOk());
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("250000000n", true), 0.25);
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("1500u", true), 0.0015);
  EXPECT_DOUBLE_EQ(*scalers::parseCpuQuantity("0", true), 0);
  EXPECT_EQ(scalers::parseCpuQuantity("-1n", true).status().message(),
            "\"-1n\" is not a CPU quantity such as 500m or 2");
}

TEST_F(TriggerScalerFactoryTest, CpuScalerScrapesTheReplicasAgainstTheirRequest) {
  TriggerScalerFactoryOptions options;
  std::vector<std::string> asked;
  options.replicaMetricsUrls = [&](const std::string& ns, const std::string& name) {
    asked.push_back(ns + "/" + name);
    return std::vector<std::string>{"http://127.0.0.9:8090/metrics"};
  };
  TriggerScalerFactory withPods{client, http, clock, options};
  json function = {
      {"metadata", {{"name", "orders"}, {"namespace", "etl"}}},
      {"spec", {{"scaling", {{"cpuTargetUtilization", 50}}}, {"resources", {{"requests", {{"cpu", "250m"}}}}}}}};
  auto scaler = withPods.createCpu(function);
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  ASSERT_NE(*scaler, nullptr);
  EXPECT_EQ((*scaler)->target().type, autoscaler::MetricTargetType::kUtilization);
  EXPECT_EQ((*scaler)->target().target, 50);
  http->answer("http://127.0.0.9:8090/metrics", 200, "process_cpu_seconds_total 1\n");
  EXPECT_FALSE((*scaler)->read().isOk()) << "one sample is not a rate yet";
  clock.advance(std::chrono::seconds(4));
  http->answer("http://127.0.0.9:8090/metrics", 200, "process_cpu_seconds_total 1.5\n");  // 0.125 of 0.25 cores
  auto reading = (*scaler)->read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_DOUBLE_EQ(reading->value, 50);
  EXPECT_EQ(asked, (std::vector<std::string>{"etl/orders", "etl/orders"}));

  function["spec"].erase("resources");
  EXPECT_EQ(withPods.createCpu(function).status().message(),
            "spec.resources.requests.cpu: is required with spec.scaling.cpuTargetUtilization");
  function["spec"]["resources"] = {{"requests", {{"cpu", "a lot"}}}};
  EXPECT_EQ(withPods.createCpu(function).status().message(),
            "spec.resources.requests.cpu: \"a lot\" is not a positive CPU quantity such as 500m or 2");
  EXPECT_EQ(*factory.createCpu(function), nullptr) << "a factory without replica URLs does not measure CPU";
}

}  // namespace
}  // namespace sluice::controllers

namespace sluice::controllers {
namespace {

class HttpTriggerScalerTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  testing::FakeResourceClient client{clock};
  std::shared_ptr<testing::FakeUrlHttpClient> http = std::make_shared<testing::FakeUrlHttpClient>();
  static nlohmann::json httpTrigger(const nlohmann::json& http) {
    return {{"metadata", {{"name", "t"}, {"namespace", "etl"}}},
            {"spec", {{"functionRef", {{"name", "orders"}}}, {"http", http}}}};
  }
};

TEST_F(HttpTriggerScalerTest, NothingToMeasureWithoutAGateway) {
  TriggerScalerFactory factory{client, http, clock};
  auto scaler = factory.create(httpTrigger({{"path", "/orders"}}));
  ASSERT_TRUE(scaler.isOk());
  EXPECT_EQ(*scaler, nullptr);
}

TEST_F(HttpTriggerScalerTest, MeasuresTheGatewaysRequestsAgainstTheFunctionsConcurrency) {
  TriggerScalerFactoryOptions options;
  options.gatewayLoadsUrls = [] { return std::vector<std::string>{"http://gw/loads"}; };
  options.functionConcurrency = [](const std::string& ns, const std::string& name) {
    return ns == "etl" && name == "orders" ? 4 : 1;
  };
  TriggerScalerFactory factory{client, http, clock, options};
  http->answer("http://gw/loads", 200,
               R"({"functions":[{"namespace":"etl","name":"orders","pending":2,"inFlight":7}]})");
  auto scaler = factory.create(httpTrigger({{"path", "/orders"}}));
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  ASSERT_NE(*scaler, nullptr);
  EXPECT_EQ((*scaler)->name(), "http/etl/orders");
  EXPECT_EQ((*scaler)->target().target, 4);
  EXPECT_EQ((*scaler)->read()->value, 9);
  auto own = factory.create(httpTrigger({{"path", "/orders"}, {"targetConcurrency", 10}}));
  ASSERT_TRUE(own.isOk());
  EXPECT_EQ((*own)->target().target, 10) << "spec.http.targetConcurrency wins";
}

}  // namespace
}  // namespace sluice::controllers
