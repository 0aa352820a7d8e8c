// A RabbitMQ mirror written as a user writes it (issue 17): a Function and a
// Trigger as `kubectl apply` would send them, admitted by the CRDs' validator
// (defaults included), rendered by the operator into the replica's config and
// Secret-backed environment, run by the sluice-runtime binary against the real
// RabbitMQ of tests/env (vhost A through a TCP relay the test can kill, vhost
// B). Shown: the management API URLs reach the replica only from the
// "Secrets", never in its config; the selected definitions appear on B; a
// queue deleted on A is pruned from B (prune: true); with A killed
// mid-stream, SIGTERM drains the replica within a termination grace, and
// every message that left A is on B.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "amqp_test_util.h"
#include "api/v1alpha1/crd_validator.h"
#include "common/yaml.h"
#include "http/http_client.h"
#include "kafka_test_util.h"
#include "runtime_process.h"
#include "spec/runtime_config_render.h"
#include "tcp_proxy.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kMessages = 4'000;

// The test broker's management API (RABBITMQ_HTTP_URL), 404 passed through.
http::Response manage(const std::string& method, const std::string& path, const json& body = nullptr) {
  static const std::shared_ptr<http::HttpClient> client = http::makeCppRestHttpClient();
  http::Request request;
  request.method = method;
  request.url = requiredEnv("RABBITMQ_HTTP_URL") + path;
  if (!body.is_null()) {
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body.dump();
  }
  auto response = client->send(request);
  if (!response.isOk()) throw std::runtime_error(method + " " + path + ": " + response.status().toString());
  if (response->status / 100 != 2 && response->status != 404) {
    throw std::runtime_error(method + " " + path + ": HTTP " + std::to_string(response->status));
  }
  return *response;
}

bool exists(const std::string& path) { return manage("GET", path).status == 200; }

std::string vhostUrl(const std::string& vhost) {
  std::string url = requiredEnv("RABBITMQ_AMQP_URL");
  return url.substr(0, url.rfind('/') + 1) + vhost;
}

uint32_t readyOrNone(const std::string& url, const std::string& queue) {
  try {
    return readyCount(url, queue);
  } catch (const std::exception&) {
    return 0;
  }
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

json admitted(const std::string& yaml) {
  auto documents = parseYamlDocuments(yaml);
  if (!documents.isOk()) throw std::runtime_error(documents.status().toString());
  json object = documents->at(0).value;
  for (const auto& error : api::v1alpha1::CrdValidator::builtin().validate(object)) ADD_FAILURE() << error.message;
  return object;
}

class RabbitMqMirrorCrdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& vhost : {a, b}) {
      manage("PUT", "/api/vhosts/" + vhost);
      manage("PUT", "/api/permissions/" + vhost + "/" + user, {{"configure", ".*"}, {"write", ".*"}, {"read", ".*"}});
    }
    manage("PUT", "/api/exchanges/" + a + "/shop", {{"type", "topic"}, {"durable", true}});
    for (const char* queue : {"orders", "doomed"}) manage("PUT", "/api/queues/" + a + "/" + queue, {{"durable", true}});
    manage("POST", "/api/bindings/" + a + "/e/shop/q/orders", {{"routing_key", "order.#"}});
    manage("POST", "/api/bindings/" + a + "/e/shop/q/doomed", {{"routing_key", "doomed"}});
  }
  void TearDown() override {
    for (const auto& vhost : {a, b}) {
      try {
        manage("DELETE", "/api/vhosts/" + vhost);
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(dir);
  }

  std::string user = requiredEnv("RABBITMQ_USER");
  std::string a = uniqueName("drc-a");
  std::string b = uniqueName("drc-b");
  std::string dir = makeTempDir("rmqmirrorcrd");
};

TEST_F(RabbitMqMirrorCrdTest, AnAppliedMirrorSyncsAndPrunesDefinitionsFromSecretsAndDrainsFastWithTheSourceKilled) {
  const auto started = std::chrono::steady_clock::now();
  const std::string http = requiredEnv("RABBITMQ_HTTP_URL");
  auto [amqpHost, amqpPort] = hostAndPort(vhostUrl(a));
  auto [httpHost, httpPort] = hostAndPort(http);
  TcpProxy brokerA(amqpHost, amqpPort);
  TcpProxy managementA(httpHost, httpPort);
  // What the Secrets hold; the manifests name them only.
  const std::map<std::string, std::map<std::string, std::string>> secrets = {
      {"broker-a", {{"url", brokerA.through(vhostUrl(a))}, {"managementUrl", managementA.through(http)}}},
      {"broker-b", {{"url", vhostUrl(b)}, {"managementUrl", http}}}};

  json function = admitted(R"(
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: dr-orders, namespace: team}
spec:
  runtime: builtin
  pipeline:
    - mirror:
        rename: identity
        definitions:
          names: [shop, orders, doomed]
          interval: 1s
          prune: true
          sourceManagementSecretRef: {name: broker-a}
          targetManagementSecretRef: {name: broker-b}
  outputs:
    - rabbitmq: {connectionSecretRef: {name: broker-b}, exchange: shop}
)");
  json trigger = admitted(R"(
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders, namespace: team}
spec:
  functionRef: {name: dr-orders}
  rabbitmq: {connectionSecretRef: {name: broker-a}, queue: orders, prefetch: 50}
)");
  auto rendered = spec::renderRuntimeConfig(function, {trigger});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  const std::string config = rendered->config.dump(2);
  EXPECT_EQ(config.find("://"), std::string::npos) << "a URL with its credentials is in the config:\n" << config;
  std::vector<std::pair<std::string, std::string>> environment;
  for (const spec::SecretEnv& env : rendered->secretEnvs) {
    environment.emplace_back(env.envName, secrets.at(env.secretName).at(env.secretKey));
  }
  writeFile(dir + "/function.json", config);

  std::vector<AmqpMessage> messages;
  for (int i = 0; i < kMessages; ++i) messages.emplace_back("m-" + std::to_string(i), "body " + std::to_string(i));
  ASSERT_EQ(publishTo(vhostUrl(a), "shop", "order.new", messages), 0u);

  RuntimeProcess mirror;
  mirror.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/mirror.log", environment);
  ASSERT_TRUE(mirror.waitReady(60s)) << mirror.log();
  // The definitions came first (the first publish needs B's exchange and binding).
  EXPECT_TRUE(exists("/api/queues/" + b + "/doomed"));
  EXPECT_EQ(manage("GET", "/api/exchanges/" + b + "/shop").status, 200);

  // Deleted on A while the mirror runs: pruned from B within a few sync rounds.
  manage("DELETE", "/api/queues/" + a + "/doomed");
  EXPECT_TRUE(waitUntil([&] { return !exists("/api/queues/" + b + "/doomed"); }, 20s)) << mirror.log();
  EXPECT_TRUE(exists("/api/queues/" + b + "/orders"));

  // A dies mid-stream: its broker connection and management API are gone.
  ASSERT_TRUE(waitUntil([&] { return readyOrNone(vhostUrl(b), "orders") >= kMessages / 4; }, 120s)) << mirror.log();
  brokerA.kill();
  managementA.kill();
  const auto killed = std::chrono::steady_clock::now();
  mirror.signal(SIGTERM);
  const int code = mirror.waitFor(10s);
  const double drainSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_EQ(code, 0) << mirror.log();

  // Every message is on B or still on A (the broker requeued what the mirror
  // held unacknowledged): none that A let go of is lost.
  std::set<std::string> seen;
  for (const auto& m : consumeQueue(vhostUrl(b), "orders", 0, 2s, 60s)) seen.insert(m.messageId);
  const size_t onB = seen.size();
  EXPECT_LT(onB, static_cast<size_t>(kMessages)) << "the kill came after the stream ended";
  for (const auto& m : consumeQueue(vhostUrl(a), "orders", kMessages - onB, 2s, 60s)) seen.insert(m.messageId);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
  std::cout << "mirror: " << onB << " of " << kMessages << " copied when A was killed, drained in " << drainSeconds
            << " s; whole test " << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
}

}  // namespace
}  // namespace sluice::testing
