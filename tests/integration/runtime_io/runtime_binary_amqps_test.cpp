// sluice-runtime BINARY processes speaking AMQP over TLS to the real RabbitMQ
// (RABBITMQ_AMQPS_URL, its server certificate signed by RABBITMQ_CA_FILE):
// a queue consumed and another produced over amqps:// lose and add nothing;
// a CA that did not sign the server's certificate stops the replica with an
// error naming the URL; and a RabbitMQ output keeps the message properties of
// its AMQP input (message id, correlation id, headers, priority, expiration,
// content type) while other inputs get a unique message id of their own, the
// same every time the same Kafka record is delivered; a client certificate
// the broker's CA signed is presented (mutual TLS), one from another CA refused.
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
constexpr const char* kCertEnv = "SLUICE_TEST_AMQPS_CERT";  // a client certificate (mutual TLS), PEM
constexpr const char* kKeyEnv = "SLUICE_TEST_AMQPS_KEY";

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
  // `clientCertificate`: both connections present the certificate in kCertEnv/kKeyEnv.
  std::string config(const std::string& urlEnv, bool clientCertificate = false) const {
    json connection = {{"urlEnv", urlEnv}, {"tlsCaEnv", kCaEnv}};
    if (clientCertificate) {
      connection["tlsCertEnv"] = kCertEnv;
      connection["tlsKeyEnv"] = kKeyEnv;
    }
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

// Mutual TLS: the listener verifies a certificate a client presents. The
// replica's, signed by the broker's CA, is accepted on each of its connections
// (the broker names its subject); one from another CA is refused.
TEST(RuntimeBinaryAmqpsTest, AClientCertificateIsPresentedAndOneFromAnotherCaIsRefused) {
  AmqpsQueues q;
  publishAll(q.plainUrl, q.in, {AmqpMessage{"m-1", "one"}});
  // A replica whose connections present the certificate in files named by env vars `cert` and `key`.
  auto start = [&q](RuntimeProcess& runtime, const std::string& cert, const std::string& key) {
    runtime.start(freeLoopbackPort(), {"--config", q.config("RABBITMQ_AMQPS_URL", /*clientCertificate=*/true)},
                  q.dir + "/" + cert + ".log",
                  {{kCaEnv, q.caPem}, {kCertEnv, readFile(requiredEnv(cert))}, {kKeyEnv, readFile(requiredEnv(key))}});
  };
  RuntimeProcess runtime;
  start(runtime, "RABBITMQ_CLIENT_CERT_FILE", "RABBITMQ_CLIENT_KEY_FILE");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  EXPECT_EQ(consumeQueue(q.plainUrl, q.out, 1, 1s, 60s).size(), 1u);
  std::vector<std::string> subjects =
      peerCertificateSubjectsOf(runtime.pid(), q.tlsUrl, requiredEnv("RABBITMQ_HTTP_URL"));
  EXPECT_EQ(subjects.size(), 3u) << "the trigger's two (its queue's, its probation queue's) and the output's";
  for (const std::string& subject : subjects) EXPECT_EQ(subject, "CN=sluice test client");
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();

  RuntimeProcess rogue;
  start(rogue, "RABBITMQ_ROGUE_CLIENT_CERT_FILE", "RABBITMQ_ROGUE_CLIENT_KEY_FILE");
  EXPECT_FALSE(rogue.waitReady(30s));
  EXPECT_NE(rogue.waitFor(30s), 0) << rogue.log();
  const std::string where = "amqps://" + q.tlsUrl.substr(q.tlsUrl.rfind('@') + 1);
  // The alert the broker sent, as OpenSSL names it, and what it means for the user.
  const std::string expected = "rabbitmq " + where + ": TLS: the broker ended the session before login (";
  EXPECT_NE(rogue.log().find(expected), std::string::npos) << rogue.log();
  EXPECT_NE(rogue.log().find("): it does not trust the client certificate"), std::string::npos) << rogue.log();
  EXPECT_EQ(rogue.log().find("a SSL error occurred"), std::string::npos) << rogue.log();
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

// The message id a RabbitMQ output gives a record whose input had none is
// the record's origin, "<event id>#<n>": two runs over the same Kafka records
// (two consumer groups, as a kill -9 and a redelivery would) write the same
// ids, so a consumer can drop the duplicates an at-least-once path makes.
TEST(RuntimeBinaryAmqpsTest, AKafkaRecordsOutputsGetTheSameMessageIdEveryTimeItIsDelivered) {
  constexpr int kRecords = 500;
  AmqpsQueues q;
  const std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string topic = uniqueName("ids-in");
  createTopic(bootstrap, topic, 2);
  std::vector<TestMessage> records;
  for (int i = 0; i < kRecords; ++i) records.push_back({"k" + std::to_string(i), "r" + std::to_string(i), {}});
  produceAll(bootstrap, topic, records);

  // Each run: a Function copying every record of `topic` (from the start, in a group of its own) and a second,
  // "<value>+", to the RabbitMQ output over amqps://.
  auto run = [&](const std::string& group) {
    const std::string path = writeKafkaPythonFunction(
        q.dir, "ids",
        "def main_handler(event, context):\n    return [{'value': event['data']}, {'value': event['data'] + '+'}]\n",
        bootstrap, topic, /*out=*/"", group);
    json config = json::parse(readFile(path));
    json output = {{"urlEnv", "RABBITMQ_AMQPS_URL"}, {"tlsCaEnv", kCaEnv}, {"routingKey", q.out}};
    config["outputs"] = json::array({{{"name", "out"}, {"rabbitmq", output}}});
    writeFile(path, config.dump(2));
    RuntimeProcess runtime;
    runtime.start(freeLoopbackPort(), {"--config", path}, q.dir + "/run-" + group + ".log", {{kCaEnv, q.caPem}});
    EXPECT_TRUE(runtime.waitReady(60s)) << runtime.log();
    std::vector<AmqpMessage> out = consumeQueue(q.plainUrl, q.out, 2 * kRecords, 2s, 120s);
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
    std::map<std::string, std::string> bodyById;
    for (const auto& m : out) bodyById[m.messageId] = m.body;
    EXPECT_EQ(out.size(), static_cast<size_t>(2 * kRecords));
    EXPECT_EQ(bodyById.size(), out.size()) << "every output message has an id of its own";
    return bodyById;
  };
  std::map<std::string, std::string> first = run(uniqueName("ids-a"));
  std::map<std::string, std::string> second = run(uniqueName("ids-b"));
  EXPECT_EQ(first, second) << "the same record's outputs carry the same ids in both runs";
  ASSERT_TRUE(first.contains(topic + "/0/0#1")) << "ids are <topic>/<partition>/<offset>#<n>";
}

}  // namespace
}  // namespace sluice::testing
