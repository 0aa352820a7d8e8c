// TriggerController on the fake client: Ready names the missing Function or
// Secrets, SourceReachable carries the probe's error, and the metric fields the
// autoscaler owns are left alone.
#include "controllers/trigger/trigger_controller.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "kube/resource.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;

class TriggerControllerTest : public ::testing::Test {
 protected:
  TriggerControllerTest()
      : client(clock), controller(client, triggers, functions, clock, [this](const std::string& host, int port) {
          probed.push_back(host + ":" + std::to_string(port));
          return reachable ? Status::ok() : unavailable(host + ":" + std::to_string(port) + ": Connection refused");
        }) {}

  void addTrigger(json spec) {
    json t = {{"apiVersion", "sluice.io/v1alpha1"},
              {"kind", "Trigger"},
              {"metadata", {{"name", "orders"}, {"namespace", "ns"}}},
              {"spec", std::move(spec)}};
    json created = *client.create(spec::kTriggers, "ns", t);
    created["status"] = {{"metricValue", "17"}, {"active", true}};
    created = *client.updateStatus(spec::kTriggers, created);
    triggers.upsert(std::make_shared<const json>(created));
  }
  void addFunction() {
    functions.upsert(std::make_shared<const json>(
        json{{"metadata", {{"name", "fn"}, {"namespace", "ns"}, {"uid", "u"}}}, {"spec", json::object()}}));
  }
  // The Kafka spec's two Secrets, with their keys; `caMetadata` is merged into kafka-ca's metadata.
  void addKafkaSecrets(const json& caMetadata = json::object()) {
    json ca = {{"name", "kafka-ca"}, {"namespace", "ns"}};
    ca.update(caMetadata);
    ASSERT_TRUE(client.create(kube::resources::kSecrets, "ns", {{"metadata", ca}, {"data", {{"ca.crt", "LS0t"}}}}));
    ASSERT_TRUE(client.create(kube::resources::kSecrets, "ns",
                              {{"metadata", {{"name", "kafka-user"}, {"namespace", "ns"}}},
                               {"data", {{"username", "dQ=="}, {"password", "cA=="}}}}));
  }
  json conditionOf(const std::string& type) {
    const json trigger = *client.object(spec::kTriggers, "ns", "orders");
    for (const json& c : trigger["status"]["conditions"]) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }

  testing::FakeClock clock;
  testing::FakeResourceClient client;
  kube::ObjectCache triggers;
  kube::ObjectCache functions;
  bool reachable = true;
  std::vector<std::string> probed;
  TriggerController controller;
};

json kafkaSpec() {
  return {{"functionRef", {{"name", "fn"}}},
          {"kafka",
           {{"bootstrapServers", json::array({"127.0.0.1:9092", "[::1]:9093"})},
            {"topics", json::array({"orders"})},
            {"consumerGroup", "g"},
            {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-user"}}}}},
            {"tls", {{"secretRef", {{"name", "kafka-ca"}}}}}}}};
}

TEST_F(TriggerControllerTest, MissingFunctionIsNamed) {
  addTrigger(kafkaSpec());
  controller.reconcile("ns/orders");
  json ready = conditionOf("Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "FunctionNotFound");
  EXPECT_EQ(ready["message"], "function \"fn\" does not exist in namespace ns");
  json status = client.object(spec::kTriggers, "ns", "orders")->at("status");
  EXPECT_EQ(status["sourceType"], "kafka");
  EXPECT_EQ(status["metricValue"], "17") << "the autoscaler's fields are left alone";
  EXPECT_EQ(status["active"], true);
}

TEST_F(TriggerControllerTest, MissingSecretsAreNamedThenReadyWhenTheyExist) {
  addFunction();
  addTrigger(kafkaSpec());
  EXPECT_EQ(TriggerController::secretNames(kafkaSpec()), (std::vector<std::string>{"kafka-user", "kafka-ca"}));
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["reason"], "SecretNotFound");
  EXPECT_EQ(conditionOf("Ready")["message"], "Secrets not found in namespace ns: kafka-user kafka-ca");
  addKafkaSecrets();
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["status"], "True");
  EXPECT_EQ(conditionOf("SourceReachable")["status"], "True");
  EXPECT_EQ(probed.front(), "127.0.0.1:9092");
}

// The Secrets the scaler would send to the broker must opt in: until they do,
// ScalerCredentials is False naming each Secret and the label, with one
// Warning Event; Ready is not affected (the replicas may mount them).
TEST_F(TriggerControllerTest, ScalerCredentialsNameSecretsWithoutTheOptIn) {
  reconcile::EventRecorder events(client, "sluice-operator", clock);
  TriggerController withEvents(
      client, triggers, functions, clock, [](const std::string&, int) { return Status::ok(); }, &events);
  addFunction();
  addTrigger(kafkaSpec());
  addKafkaSecrets({{"annotations", {{api::v1alpha1::kScalerAccessKey, "true"}}}});
  // As the informer would: the cache follows the status written.
  auto reconcile = [&] {
    withEvents.reconcile("ns/orders");
    triggers.upsert(std::make_shared<const json>(*client.object(spec::kTriggers, "ns", "orders")));
  };
  reconcile();
  reconcile();
  EXPECT_EQ(conditionOf("Ready")["status"], "True");
  json credentials = conditionOf("ScalerCredentials");
  EXPECT_EQ(credentials["status"], "False");
  EXPECT_EQ(credentials["reason"], "SecretNotOptedIn");
  const std::string message =
      "spec.kafka.sasl.secretRef: Secret ns/kafka-user lacks the label sluice.io/scaler-access=\"true\", so the "
      "operator does not use its credentials to measure this Trigger (label or annotate the Secret to allow it)";
  EXPECT_EQ(credentials["message"], message);
  std::vector<json> recorded = client.objects(kube::resources::kEvents, "ns");
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0]["reason"], "SecretNotOptedIn");
  EXPECT_EQ(recorded[0]["message"], message);
  EXPECT_EQ(recorded[0]["count"], 1) << "reported once, not on every recheck";

  json labelled = *client.object(kube::resources::kSecrets, "ns", "kafka-user");
  labelled["metadata"]["labels"] = {{api::v1alpha1::kScalerAccessKey, "true"}};
  ASSERT_TRUE(client.update(kube::resources::kSecrets, labelled).isOk());
  reconcile();
  EXPECT_EQ(conditionOf("ScalerCredentials")["status"], "True");
  EXPECT_EQ(conditionOf("ScalerCredentials")["reason"], "OptedIn");
}

// An http Trigger's backlog (spec.http.async) is measured with its Secrets: they need the opt-in
// as a Kafka Trigger's do, and their condition names the async field.
TEST_F(TriggerControllerTest, HttpAsyncKafkaSecretsNeedTheOptIn) {
  addFunction();
  addTrigger({{"functionRef", {{"name", "fn"}}},
              {"http",
               {{"path", "/orders"},
                {"async",
                 {{"kafka",
                   {{"bootstrapServers", json::array({"127.0.0.1:9092"})},
                    {"topic", "orders-async"},
                    {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-user"}}}}}}}}}}}});
  addKafkaSecrets();
  controller.reconcile("ns/orders");
  json credentials = conditionOf("ScalerCredentials");
  ASSERT_NE(credentials, nullptr) << "the async Secret is not counted among the scaler's";
  EXPECT_EQ(credentials["status"], "False");
  EXPECT_EQ(credentials["message"],
            "spec.http.async.kafka.sasl.secretRef: Secret ns/kafka-user lacks the label "
            "sluice.io/scaler-access=\"true\", so the operator does not use its credentials to measure this "
            "Trigger (label or annotate the Secret to allow it)");
}

// A Trigger whose scaler reads no Secret has no ScalerCredentials condition.
TEST_F(TriggerControllerTest, NoScalerCredentialsConditionWithoutScalerSecrets) {
  addFunction();
  addTrigger({{"functionRef", {{"name", "fn"}}}, {"cron", {{"schedule", "@hourly"}}}});
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("ScalerCredentials"), nullptr);
}

// A Secret that exists but lacks a key the replicas read is named with the
// key and the spec field that references it.
TEST_F(TriggerControllerTest, MissingSecretKeysAreNamed) {
  addFunction();
  json spec = kafkaSpec();
  spec["kafka"]["tls"]["mutual"] = true;
  addTrigger(spec);
  EXPECT_EQ(TriggerController::requiredSecretKeys(spec),
            (std::vector<TriggerController::SecretKey>{{"kafka-user", "username", "spec.kafka.sasl.secretRef"},
                                                       {"kafka-user", "password", "spec.kafka.sasl.secretRef"},
                                                       {"kafka-ca", "ca.crt", "spec.kafka.tls.secretRef"},
                                                       {"kafka-ca", "tls.crt", "spec.kafka.tls.secretRef"},
                                                       {"kafka-ca", "tls.key", "spec.kafka.tls.secretRef"}}));
  ASSERT_TRUE(
      client
          .create(kube::resources::kSecrets, "ns",
                  {{"metadata", {{"name", "kafka-user"}, {"namespace", "ns"}}}, {"data", {{"username", "dQ=="}}}})
          .isOk());
  ASSERT_TRUE(client
                  .create(kube::resources::kSecrets, "ns",
                          {{"metadata", {{"name", "kafka-ca"}, {"namespace", "ns"}}},
                           {"data", {{"ca.crt", "LS0t"}, {"tls.crt", "LS0t"}}}})
                  .isOk());
  controller.reconcile("ns/orders");
  json ready = conditionOf("Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "SecretKeyMissing");
  EXPECT_EQ(ready["message"],
            "spec.kafka.sasl.secretRef: Secret ns/kafka-user has no key password; "
            "spec.kafka.tls.secretRef: Secret ns/kafka-ca has no key tls.key");
}

// A source no broker of which accepts connections makes the Trigger not Ready, naming each field
// and its error, with one Warning Event per onset; it is Ready again once one does.
TEST_F(TriggerControllerTest, UnreachableSourceCarriesEveryErrorAndIsNotReady) {
  reconcile::EventRecorder events(client, "sluice-operator", clock);
  TriggerController withEvents(
      client, triggers, functions, clock,
      [this](const std::string& host, int port) {
        return reachable ? Status::ok() : unavailable(host + ":" + std::to_string(port) + ": Connection refused");
      },
      &events);
  // As the informer would: the cache follows the status written.
  auto reconcile = [&] {
    withEvents.reconcile("ns/orders");
    triggers.upsert(std::make_shared<const json>(*client.object(spec::kTriggers, "ns", "orders")));
  };
  addFunction();
  json spec = kafkaSpec();
  spec["kafka"].erase("sasl");
  spec["kafka"].erase("tls");
  addTrigger(spec);
  reachable = false;
  reconcile();
  reconcile();
  json reach = conditionOf("SourceReachable");
  EXPECT_EQ(reach["status"], "False");
  EXPECT_EQ(reach["reason"], "Unreachable");
  const std::string errors =
      "spec.kafka.bootstrapServers[0]: 127.0.0.1:9092: Connection refused; "
      "spec.kafka.bootstrapServers[1]: ::1:9093: Connection refused";
  EXPECT_EQ(reach["message"], errors);
  json ready = conditionOf("Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "SourceUnreachable");
  EXPECT_EQ(ready["message"], "the source does not accept connections: " + errors);
  std::vector<json> recorded = client.objects(kube::resources::kEvents, "ns");
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0]["reason"], "SourceUnreachable");
  EXPECT_EQ(recorded[0]["count"], 1) << "reported once, not on every recheck";

  reachable = true;
  clock.advance(std::chrono::seconds(20));  // the last probe's answer is reused that long (ProbeMemo)
  reconcile();
  EXPECT_EQ(conditionOf("Ready")["status"], "True");
  EXPECT_EQ(conditionOf("SourceReachable")["status"], "True");
}

TEST_F(TriggerControllerTest, ARealProbeReportsARefusedPort) {
  // Port 1 on loopback: nothing listens there.
  Status s = tcpProbe("127.0.0.1", 1);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "127.0.0.1:1: Connection refused");
}

// With --scaler-endpoint-allow the operator connects to no endpoint the list leaves out, probes included.
TEST_F(TriggerControllerTest, AnEndpointOutsideTheAllowListIsNotProbed) {
  auto allowed = scalers::EndpointAllowList::parse({"127.0.0.1:9092"});
  ASSERT_TRUE(allowed.isOk());
  TriggerController restricted(
      client, triggers, functions, clock,
      [this](const std::string& host, int port) {
        probed.push_back(host + ":" + std::to_string(port));
        return Status::ok();
      },
      nullptr, *allowed);
  addFunction();
  json spec = kafkaSpec();
  spec["kafka"].erase("sasl");
  spec["kafka"].erase("tls");
  addTrigger(spec);
  restricted.reconcile("ns/orders");
  json reach = conditionOf("SourceReachable");
  EXPECT_EQ(reach["status"], "False");
  EXPECT_EQ(reach["reason"], "EndpointNotAllowed");
  EXPECT_EQ(reach["message"],
            "spec.kafka.bootstrapServers[1]: [::1]:9093 is not in the operator's scaler endpoint allow-list "
            "(--scaler-endpoint-allow); the scaler does not connect to it");
  EXPECT_TRUE(probed.empty());

  spec["kafka"]["bootstrapServers"] = json::array({"127.0.0.1:9092"});
  json trigger = *client.object(spec::kTriggers, "ns", "orders");
  trigger["spec"] = spec;
  triggers.upsert(std::make_shared<const json>(*client.update(spec::kTriggers, trigger)));
  restricted.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("SourceReachable")["reason"], "Reachable");
  EXPECT_EQ(probed, std::vector<std::string>{"127.0.0.1:9092"});
}

TEST_F(TriggerControllerTest, RabbitMQUrlsInSecretsAreNotProbed) {
  addFunction();
  addTrigger(
      {{"functionRef", {{"name", "fn"}}}, {"rabbitmq", {{"connectionSecretRef", {{"name", "amqp"}}}, {"queue", "q"}}}});
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("SourceReachable")["status"], "Unknown");
  EXPECT_EQ(conditionOf("Ready")["message"], "Secret not found in namespace ns: amqp");
  EXPECT_TRUE(probed.empty());
}

// The replica's secretKeyRefs for an AMQP URL or object-store credentials: a missing key is reported
// on the Trigger (the pod would otherwise sit in CreateContainerConfigError).
TEST_F(TriggerControllerTest, MissingAmqpUrlAndObjectStoreKeysAreNamed) {
  addFunction();
  ASSERT_TRUE(client
                  .create(kube::resources::kSecrets, "ns",
                          {{"metadata", {{"name", "amqp"}, {"namespace", "ns"}}}, {"data", {{"uri", "YQ=="}}}})
                  .isOk());
  addTrigger(
      {{"functionRef", {{"name", "fn"}}}, {"rabbitmq", {{"connectionSecretRef", {{"name", "amqp"}}}, {"queue", "q"}}}});
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["reason"], "SecretKeyMissing");
  EXPECT_EQ(conditionOf("Ready")["message"], "spec.rabbitmq.connectionSecretRef: Secret ns/amqp has no key url");

  ASSERT_TRUE(client
                  .create(kube::resources::kSecrets, "ns",
                          {{"metadata", {{"name", "s3"}, {"namespace", "ns"}}}, {"data", {{"accessKey", "YQ=="}}}})
                  .isOk());
  json trigger = *client.object(spec::kTriggers, "ns", "orders");
  trigger["spec"] = {{"functionRef", {{"name", "fn"}}},
                     {"objectStore",
                      {{"type", "s3"},
                       {"endpoint", "http://127.0.0.1:9000"},
                       {"bucket", "in"},
                       {"credentialsSecretRef", {{"name", "s3"}}}}}};
  triggers.upsert(std::make_shared<const json>(*client.update(spec::kTriggers, trigger)));
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["reason"], "SecretKeyMissing");
  EXPECT_EQ(conditionOf("Ready")["message"],
            "spec.objectStore.credentialsSecretRef: Secret ns/s3 has no key secretKey");
}

// The dead letter's Secret keys are checked with the source's: a Kafka dead letter with mutual TLS
// needs ca.crt, tls.crt and tls.key, each missing one named.
TEST_F(TriggerControllerTest, TheDeadLettersMissingKeysAreNamed) {
  addFunction();
  ASSERT_TRUE(client
                  .create(kube::resources::kSecrets, "ns",
                          {{"metadata", {{"name", "dlq-tls"}, {"namespace", "ns"}}}, {"data", {{"ca.crt", "YQ=="}}}})
                  .isOk());
  addTrigger({{"functionRef", {{"name", "fn"}}},
              {"cron", {{"schedule", "* * * * *"}}},
              {"delivery",
               {{"deadLetter",
                 {{"kafka",
                   {{"bootstrapServers", {"127.0.0.1:9092"}},
                    {"topic", "dlq"},
                    {"tls", {{"secretRef", {{"name", "dlq-tls"}}}, {"mutual", true}}}}}}}}}});
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["reason"], "SecretKeyMissing");
  EXPECT_EQ(conditionOf("Ready")["message"],
            "spec.delivery.deadLetter.kafka.tls.secretRef: Secret ns/dlq-tls has no key tls.crt; "
            "spec.delivery.deadLetter.kafka.tls.secretRef: Secret ns/dlq-tls has no key tls.key");
}

// amqps://: the CA and client certificate keys of the connection Secret are secretKeyRefs of the
// replica too; each missing one is named with its tls field.
TEST_F(TriggerControllerTest, MissingAmqpsCertificateKeysAreNamed) {
  addFunction();
  ASSERT_TRUE(client
                  .create(kube::resources::kSecrets, "ns",
                          {{"metadata", {{"name", "amqp"}, {"namespace", "ns"}}},
                           {"data", {{"url", "YQ=="}, {"tls.crt", "YQ=="}}}})
                  .isOk());
  addTrigger({{"functionRef", {{"name", "fn"}}},
              {"rabbitmq",
               {{"connectionSecretRef", {{"name", "amqp"}}},
                {"queue", "q"},
                {"tls", {{"caKey", "ca.crt"}, {"certKey", "tls.crt"}, {"keyKey", "tls.key"}}}}}});
  controller.reconcile("ns/orders");
  EXPECT_EQ(conditionOf("Ready")["status"], "False");
  EXPECT_EQ(conditionOf("Ready")["reason"], "SecretKeyMissing");
  EXPECT_EQ(conditionOf("Ready")["message"],
            "spec.rabbitmq.tls.caKey: Secret ns/amqp has no key ca.crt; "
            "spec.rabbitmq.tls.keyKey: Secret ns/amqp has no key tls.key");
}

}  // namespace
}  // namespace sluice::controllers
