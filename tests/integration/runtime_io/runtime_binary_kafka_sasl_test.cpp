// The sluice-runtime BINARY over the test Kafka's SASL_SSL listener
// (KAFKA_SASL_SSL_BOOTSTRAP: SCRAM-SHA-512 over TLS with the test CA). The
// function config carries only the security settings and the NAMES of the
// environment variables holding the credentials (what the operator renders
// from a Trigger's sasl.secretRef); the values come from the environment.
// End to end through the secure listener, records arrive exactly once; with a
// wrong password the runtime says so by name, consumes and commits nothing,
// and a replica started afterwards with the right password gets every record.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kUserEnv = "SLUICE_TEST_KAFKA_SASL_USER";
constexpr const char* kPasswordEnv = "SLUICE_TEST_KAFKA_SASL_PASSWORD";
constexpr const char* kWrongPasswordEnv = "SLUICE_TEST_KAFKA_SASL_WRONG_PASSWORD";

json security(const std::string& passwordEnv) {
  return {{"protocol", "SASL_SSL"},
          {"saslMechanism", requiredEnv("KAFKA_SASL_MECHANISM")},
          {"usernameEnv", kUserEnv},
          {"passwordEnv", passwordEnv},
          {"caFile", requiredEnv("KAFKA_SSL_CA_FILE")}};
}

struct SecureFixture {
  std::string plain = requiredEnv("KAFKA_BOOTSTRAP");
  std::string secure = requiredEnv("KAFKA_SASL_SSL_BOOTSTRAP");
  std::string in = uniqueName("sasl-in");
  std::string out = uniqueName("sasl-out");
  std::string group = uniqueName("sasl-group");
  std::string dir = makeTempDir("rtsasl");

  SecureFixture() {
    setenv(kUserEnv, requiredEnv("KAFKA_SASL_USERNAME").c_str(), 1);
    setenv(kPasswordEnv, requiredEnv("KAFKA_SASL_PASSWORD").c_str(), 1);
    setenv(kWrongPasswordEnv, "not-the-password", 1);
    createTopic(plain, in, 3);
    createTopic(plain, out, 3);
    std::filesystem::create_directories(dir + "/code");
    writeFile(dir + "/code/index.py", R"PY(
def main_handler(event, context):
    return {"value": "seen " + event["data"], "key": event["key"]}
)PY");
  }
  ~SecureFixture() { std::filesystem::remove_all(dir); }

  // A config reading and writing through the SASL_SSL listener; the trigger
  // takes its password from `triggerPasswordEnv`.
  std::string writeConfig(const std::string& name, const std::string& triggerPasswordEnv) {
    json config = {
        {"name", "secure"},
        {"runtime", "python3.11"},
        {"codeDir", dir + "/code"},
        {"handler", "index.main_handler"},
        {"outputs",
         json::array(
             {{{"name", "out"},
               {"kafka", {{"bootstrapServers", secure}, {"topic", out}, {"security", security(kPasswordEnv)}}}}})},
        {"triggers", json::array({{{"name", "secure-in"},
                                   {"kafka",
                                    {{"bootstrapServers", secure},
                                     {"topics", json::array({in})},
                                     {"consumerGroup", group},
                                     {"initialOffset", "earliest"},
                                     {"security", security(triggerPasswordEnv)}}}}})}};
    std::string path = dir + "/" + name + ".json";
    writeFile(path, config.dump(2));
    return path;
  }
};

std::vector<TestMessage> messages(int count) {
  std::vector<TestMessage> result;
  result.reserve(count);
  for (int i = 0; i < count; ++i) result.push_back({"k" + std::to_string(i % 7), "id-" + std::to_string(i), {}});
  return result;
}

void expectEachOnce(const std::vector<ConsumedRecord>& records, int count) {
  std::map<std::string, int> seen;
  for (const auto& r : records) ++seen[r.value];
  int wrong = 0;
  for (int i = 0; i < count; ++i) wrong += seen["seen id-" + std::to_string(i)] != 1;
  EXPECT_EQ(wrong, 0) << "records missing or duplicated";
  EXPECT_EQ(records.size(), static_cast<size_t>(count));
}

TEST(RuntimeBinaryKafkaSaslTest, ConsumesAndProducesThroughTheSaslSslListener) {
  constexpr int kMessages = 2000;
  SecureFixture f;
  // The test client uses the secure listener too: SCRAM and TLS work both ways.
  produceAll(f.secure, f.in, messages(kMessages), saslSslProperties());
  std::string config = f.writeConfig("right", kPasswordEnv);
  std::string text = readFile(config);
  EXPECT_EQ(text.find(requiredEnv("KAFKA_SASL_PASSWORD")), std::string::npos) << "no credential in the config";

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", config}, f.dir + "/right.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  auto out = consumeAll(f.secure, f.out, kMessages, 3s, 180s, saslSslProperties());
  expectEachOnce(out, kMessages);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(runtime.log().find("SASL authentication error"), std::string::npos) << runtime.log();
}

TEST(RuntimeBinaryKafkaSaslTest, WrongPasswordIsReportedByNameAndLosesNothing) {
  constexpr int kMessages = 300;
  SecureFixture f;
  produceAll(f.plain, f.in, messages(kMessages));

  RuntimeProcess wrong;
  wrong.start(freeLoopbackPort(), {"--config", f.writeConfig("wrong", kWrongPasswordEnv)}, f.dir + "/wrong.log");
  ASSERT_TRUE(wrong.waitReady(60s)) << wrong.log();
  // One error line names the trigger, the mechanism's failure and its reason.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto reported = [&] {
    std::istringstream lines(wrong.log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("[error]") != std::string::npos && line.find("kafka trigger secure-in: ") != std::string::npos &&
          line.find("SASL authentication error") != std::string::npos &&
          line.find("invalid credentials") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  while (!reported() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(reported()) << "the log names neither the trigger nor the authentication failure:\n" << wrong.log();
  HttpReply metrics = httpGet(wrong.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_received_total", "trigger=\"secure-in\""), 0);
  wrong.signal(SIGTERM);
  EXPECT_EQ(wrong.waitFor(120s), 0) << wrong.log();
  EXPECT_TRUE(consumeAll(f.plain, f.out, 0, 2s, 10s).empty()) << "nothing can have been processed";

  // Nothing was committed for the group: the right password gets every record.
  RuntimeProcess right;
  right.start(freeLoopbackPort(), {"--config", f.writeConfig("right", kPasswordEnv)}, f.dir + "/right.log");
  ASSERT_TRUE(right.waitReady(60s)) << right.log();
  auto out = consumeAll(f.plain, f.out, kMessages, 3s, 120s);
  expectEachOnce(out, kMessages);
  right.signal(SIGTERM);
  EXPECT_EQ(right.waitFor(120s), 0) << right.log();
}

}  // namespace
}  // namespace sluice::testing
