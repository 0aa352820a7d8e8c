// sluice-runtime BINARY processes speaking AMQP over TLS to the real RabbitMQ
// (RABBITMQ_AMQPS_URL, its server certificate signed by RABBITMQ_CA_FILE):
// a queue consumed and another produced over amqps:// lose and add nothing;
// a CA that did not sign the server's certificate stops the replica with an
// error naming the URL; and a RabbitMQ output keeps the message properties of
// its AMQP input (message id, correlation id, headers, priority, expiration,
// content type) while other inputs get a unique message id of their own.
// The test's own publishing and reading go over the plain listener
// (RABBITMQ_AMQP_URL) to the same broker, independent of the code under test.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
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

constexpr const char* kCaEnv = "SLUICE_TEST_AMQPS_CA";

// Copies each message's body and headers on: the record has no properties of its own.
constexpr const char* kCopyHandler = R"PY(
def main_handler(event, context):
    return {"value": event["data"], "key": event.get("key")}
)PY";

struct AmqpsQueues {
  std::string plainUrl = requiredEnv("RABBITMQ_AMQP_URL");
  std::string tlsUrl = requiredEnv("RABBITMQ_AMQPS_URL");
  std::string caPem = readFile(requiredEnv("RABBITMQ_CA_FILE"));
  std::string in = uniqueName("tls-in");
  std::string out = uniqueName("tls-out");
  std::string dir = makeTempDir("rtamqps");

  AmqpsQueues() {
    declareQueue(plainUrl, in);
    declareQueue(plainUrl, out);
    std::filesystem::create_directories(dir + "/code");
    writeFile(dir + "/code/index.py", kCopyHandler);
  }
  ~AmqpsQueues() {
    for (const auto& q : {in, out}) {
      try {
        deleteQueue(plainUrl, q);
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(dir);
  }

  // A function consuming `in` and writing `out`, both over `urlEnv` with the
  // CA in kCaEnv; a cron trigger too (its ticks, pushed to /invoke, are not AMQP inputs).
  std::string config(const std::string& urlEnv) const {
    json connection = {{"urlEnv", urlEnv}, {"tlsCaEnv", kCaEnv}};
    json trigger = connection;
    trigger["queue"] = in;
    trigger["prefetch"] = 50;
    json output = connection;
    output["routingKey"] = out;
    json config = {{"name", "mover"},
                   {"runtime", "python3.11"},
                   {"codeDir", dir + "/code"},
                   {"outputs", json::array({{{"name", "out"}, {"rabbitmq", output}}})},
                   {"triggers", json::array({{{"name", "in"}, {"rabbitmq", trigger}},
                                             {{"name", "tick"}, {"cron", {{"schedule", "0 0 * * *"}}}}})}};
    writeFile(dir + "/function.json", config.dump(2));
    return dir + "/function.json";
  }
};

std::string run(const std::string& command) {
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return command;
}

TEST(RuntimeBinaryAmqpsTest, ConsumesAndProducesOverTlsLosingNothing) {
  constexpr int kMessages = 500;
  AmqpsQueues q;
  std::vector<AmqpMessage> messages;
  for (int i = 0; i < kMessages; ++i) messages.push_back({"m-" + std::to_string(i), "body " + std::to_string(i)});
  publishAll(q.plainUrl, q.in, messages);

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", q.config("RABBITMQ_AMQPS_URL")}, q.dir + "/run.log",
                {{kCaEnv, q.caPem}});
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  std::vector<AmqpMessage> moved = consumeQueue(q.plainUrl, q.out, kMessages, 2s, 120s);
  std::set<std::string> bodies;
  for (const AmqpMessage& m : moved) bodies.insert(m.body);
  EXPECT_EQ(moved.size(), static_cast<size_t>(kMessages)) << "no duplicates on a clean run";
  EXPECT_EQ(bodies.size(), static_cast<size_t>(kMessages)) << "every message moved";
  EXPECT_EQ(readyCount(q.plainUrl, q.in), 0u) << "every input acknowledged";
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
}

TEST(RuntimeBinaryAmqpsTest, ACaThatDidNotSignTheServerStopsTheReplicaNamingTheUrl) {
  AmqpsQueues q;
  // A CA of the same shape, but not the one that signed the broker's certificate.
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=another CA' -keyout '" + q.dir +
      "/other.key' -out '" + q.dir + "/other.crt' 2>/dev/null");
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", q.config("RABBITMQ_AMQPS_URL")}, q.dir + "/run.log",
                {{kCaEnv, readFile(q.dir + "/other.crt")}});
  EXPECT_FALSE(runtime.waitReady(60s));
  EXPECT_NE(runtime.waitFor(30s), 0) << runtime.log();
  // The URL without its password, and OpenSSL's own reason.
  const std::string tlsUrl = q.tlsUrl;
  const std::string where = "amqps://" + tlsUrl.substr(tlsUrl.rfind('@') + 1);
  // The broker sends its CA along with its certificate, hence OpenSSL's wording; the output connects first.
  const std::string expected =
      "sluice-runtime: Unavailable: output \"out\": rabbitmq output \"" + q.out + "\": rabbitmq " + where +
      ": TLS: the server's certificate is not trusted: self-signed certificate in certificate chain";
  EXPECT_NE(runtime.log().find(expected), std::string::npos) << "expected: " << expected << "\n" << runtime.log();
  EXPECT_EQ(runtime.log().find(requiredEnv("RABBITMQ_PASSWORD")), std::string::npos) << "the password is not shown";
}

TEST(RuntimeBinaryAmqpsTest, TheRabbitMqOutputKeepsTheAmqpInputsPropertiesAndGivesOthersAUniqueId) {
  AmqpsQueues q;
  AmqpMessage full{"order-17", "full", {{"tenant", "acme"}, {"trace", "t-1"}}};
  full.correlationId = "corr-9";
  full.contentType = "application/json";
  full.expiration = "600000";
  full.priority = 7;
  AmqpMessage bare{"", "bare", {}};
  publishAll(q.plainUrl, q.in, {full, bare});

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", q.config("RABBITMQ_AMQPS_URL")}, q.dir + "/run.log",
                {{kCaEnv, q.caPem}});
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  std::vector<AmqpMessage> fromQueue = consumeQueue(q.plainUrl, q.out, 2, 1s, 60s);
  // As the operator fires a cron tick: the outputs are written like a queued message's.
  const std::vector<std::pair<std::string, std::string>> kTick = {{"X-Sluice-Trigger", "tick"},
                                                                  {"X-Sluice-Event-Type", "cron.tick"}};
  ASSERT_EQ(invokeReplica(runtime.dataPort(), "one", kTick).code, 204) << "settled: outputs written";
  ASSERT_EQ(invokeReplica(runtime.dataPort(), "two", kTick).code, 204) << "settled: outputs written";
  std::vector<AmqpMessage> fromTicks = consumeQueue(q.plainUrl, q.out, 2, 1s, 60s);
  ASSERT_EQ(fromQueue.size(), 2u);
  ASSERT_EQ(fromTicks.size(), 2u);
  std::map<std::string, AmqpMessage> byBody;
  for (const auto& m : fromQueue) byBody[m.body] = m;
  for (const auto& m : fromTicks) byBody[m.body] = m;

  const AmqpMessage& kept = byBody.at("full");
  EXPECT_EQ(kept.messageId, "order-17");
  EXPECT_EQ(kept.correlationId, "corr-9");
  EXPECT_EQ(kept.contentType, "application/json");
  EXPECT_EQ(kept.expiration, "600000");
  EXPECT_EQ(kept.priority, std::optional<uint8_t>(7));
  EXPECT_EQ(kept.headers, (std::map<std::string, std::string>{{"tenant", "acme"}, {"trace", "t-1"}}));
  EXPECT_TRUE(kept.timestamp.has_value());

  // No properties in: a message id of the output's own, the generic content type, nothing made up.
  std::set<std::string> ids;
  for (const char* body : {"bare", "one", "two"}) {
    const AmqpMessage& m = byBody.at(body);
    EXPECT_FALSE(m.messageId.empty()) << body;
    ids.insert(m.messageId);
    EXPECT_EQ(m.contentType, "application/octet-stream") << body;
    EXPECT_EQ(m.correlationId, "") << body;
    EXPECT_EQ(m.expiration, "") << body;
    EXPECT_FALSE(m.priority.has_value()) << body;
    EXPECT_TRUE(m.timestamp.has_value()) << body;
  }
  EXPECT_EQ(ids.size(), 3u) << "each output message has its own id";
}

}  // namespace
}  // namespace sluice::testing
