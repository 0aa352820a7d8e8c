// The sluice-runtime BINARY reading its input over the test Kafka's plain
// listener and writing its output through the SASL_SSL listener
// (KAFKA_SASL_SSL_BOOTSTRAP) with a WRONG password. Sink::health: the replica
// reports /readyz 503 naming the output, its topic and the authentication
// failure; the Kafka source pauses (records produced afterwards are not
// taken, though the replica sees them in its lag); nothing is committed,
// written or dead-lettered. A replica of the same group with the right
// password then delivers every id. And an output whose SCRAM user does not
// exist yet recovers in place once the user is created on the broker: the
// replica turns ready, resumes fetching and delivers every id. Likewise an
// output topic that does not exist (auto-create is off): records in flight
// fail with "unknown topic", wait without being dead-lettered, and are
// written once the topic is created. And a CA that did not sign the broker's
// certificate: the TLS handshake failure is reported the same way.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
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

constexpr const char* kUserEnv = "SLUICE_TEST_SINK_SASL_USER";
constexpr const char* kPasswordEnv = "SLUICE_TEST_SINK_SASL_PASSWORD";
constexpr const char* kWrongPasswordEnv = "SLUICE_TEST_SINK_SASL_WRONG_PASSWORD";
constexpr int kPartitions = 3;

struct SinkAuthFixture {
  std::string plain = requiredEnv("KAFKA_BOOTSTRAP");
  std::string secure = requiredEnv("KAFKA_SASL_SSL_BOOTSTRAP");
  std::string in = uniqueName("sinkauth-in");
  std::string out = uniqueName("sinkauth-out");
  std::string dead = uniqueName("sinkauth-dead");
  std::string group = uniqueName("sinkauth-group");
  std::string dir = makeTempDir("rtsinkauth");

  SinkAuthFixture() {
    setenv(kUserEnv, requiredEnv("KAFKA_SASL_USERNAME").c_str(), 1);
    setenv(kPasswordEnv, requiredEnv("KAFKA_SASL_PASSWORD").c_str(), 1);
    setenv(kWrongPasswordEnv, "not-the-password", 1);
    createTopic(plain, in, kPartitions);
    createTopic(plain, out, kPartitions);
    createTopic(plain, dead, 1);
    std::filesystem::create_directories(dir + "/code");
    writeFile(dir + "/code/index.py", R"PY(
def main_handler(event, context):
    return {"value": "seen " + event["data"], "key": event["key"]}
)PY");
  }
  ~SinkAuthFixture() { std::filesystem::remove_all(dir); }

  // Input over the plain listener; output through SASL_SSL with the password in `passwordEnv`;
  // dead letter over the plain listener. One attempt and a short message timeout: were a failed
  // write to an unusable output counted against a record, it would be dead-lettered within
  // seconds. (Measured: records waiting for a broker that refuses the credentials were not
  // failed by librdkafka even after 60 s; records for a missing topic are, see below.)
  std::string writeConfig(const std::string& name, const std::string& passwordEnv,
                          const std::string& userEnv = kUserEnv, const std::string& outTopic = "",
                          const std::string& caFile = requiredEnv("KAFKA_SSL_CA_FILE")) {
    json security = {{"protocol", "SASL_SSL"},
                     {"saslMechanism", requiredEnv("KAFKA_SASL_MECHANISM")},
                     {"usernameEnv", userEnv},
                     {"passwordEnv", passwordEnv},
                     {"caFile", caFile}};
    json config = {{"name", "sinkauth"},
                   {"runtime", "python3.11"},
                   {"codeDir", dir + "/code"},
                   {"handler", "index.main_handler"},
                   {"retry", {{"maxAttempts", 1}}},
                   {"outputs", json::array({{{"name", "out"},
                                             {"kafka",
                                              {{"bootstrapServers", secure},
                                               {"topic", outTopic.empty() ? out : outTopic},
                                               {"security", security},
                                               {"properties", {{"message.timeout.ms", "4000"}}}}}}})},
                   {"deadLetter", {{"kafka", {{"bootstrapServers", plain}, {"topic", dead}}}}},
                   {"triggers", json::array({{{"name", "in"},
                                              {"kafka",
                                               {{"bootstrapServers", plain},
                                                {"topics", json::array({in})},
                                                {"consumerGroup", group},
                                                {"initialOffset", "earliest"}}}}})}};
    std::string path = dir + "/" + name + ".json";
    writeFile(path, config.dump(2));
    return path;
  }
};

std::vector<TestMessage> messages(int from, int to) {
  std::vector<TestMessage> result;
  for (int i = from; i < to; ++i) result.push_back({"k" + std::to_string(i % 7), "id-" + std::to_string(i), {}});
  return result;
}

// Polls /readyz until it answers 503 mentioning `word` (true) or `timeout` passes.
bool waitUnready(RuntimeProcess& runtime, const std::string& word, std::chrono::milliseconds timeout,
                 HttpReply& reply) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    reply = httpGet(runtime.port(), "/readyz");
    if (reply.code == 503 && reply.body.find(word) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

int missingIds(const std::vector<ConsumedRecord>& written, int count) {
  std::set<std::string> ids;
  for (const auto& record : written) ids.insert(record.value);
  int missing = 0;
  for (int i = 0; i < count; ++i) missing += ids.contains("seen id-" + std::to_string(i)) ? 0 : 1;
  return missing;
}

double metric(int port, const std::string& name, const std::string& labels) {
  return metricSum(httpGet(port, "/metrics").body, name, labels);
}

TEST(RuntimeBinaryKafkaSinkAuthTest, WrongOutputPasswordMakesTheReplicaUnreadyPausesInputAndLosesNothing) {
  constexpr int kBefore = 150;  // in the topic before the replica starts
  constexpr int kAfter = 100;   // produced once the replica reported the output unusable
  constexpr int kTotal = kBefore + kAfter;
  SinkAuthFixture f;
  produceAll(f.plain, f.in, messages(0, kBefore));

  RuntimeProcess wrong;
  auto started = std::chrono::steady_clock::now();
  wrong.start(freeLoopbackPort(), {"--config", f.writeConfig("wrong", kWrongPasswordEnv), "--drain-grace", "5"},
              f.dir + "/wrong.log");
  // /readyz turns 503 with a message naming the output, its topic, the listener and the cause.
  HttpReply ready;
  waitUnready(wrong, "authentication", 90s, ready);
  double secondsToUnready = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(ready.code, 503) << ready.body << "\n" << wrong.log();
  EXPECT_NE(ready.body.find("output \"out\""), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("kafka output \"" + f.out + "\" (bootstrap " + f.secure + ")"), std::string::npos)
      << ready.body;
  EXPECT_NE(ready.body.find("SASL authentication error"), std::string::npos) << ready.body;
  std::cout << "time from process start to /readyz 503 (authentication): " << secondsToUnready << " s\n";
  ::testing::Test::RecordProperty("seconds_to_unready", std::to_string(secondsToUnready));
  EXPECT_EQ(httpGet(wrong.port(), "/healthz").code, 200) << "alive, only not ready: no restart loop";

  // Records produced now are not taken: once the replica's lag shows them
  // (it asks the broker while paused), nothing beyond the first batch was received.
  produceAll(f.plain, f.in, messages(kBefore, kTotal));
  double received = 0;
  double lag = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    received = metric(wrong.port(), "sluice_runtime_events_received_total", "trigger=\"in\"");
    lag = metric(wrong.port(), "sluice_runtime_consumer_lag", "topic=\"" + f.in + "\"");
    if (received + lag >= kTotal) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(received + lag, kTotal) << "the replica never saw the new records in its lag\n" << wrong.log();
  EXPECT_LE(received, kBefore) << "records produced after the output failed were fetched";
  std::cout << "records taken before fetching paused: " << received << " of " << kBefore << "\n";
  EXPECT_EQ(httpGet(wrong.port(), "/readyz").code, 503);

  // Nothing written, so nothing committed and nothing dead-lettered.
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), 0);
  wrong.signal(SIGTERM);
  EXPECT_EQ(wrong.waitFor(120s), 0) << wrong.log();
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), 0) << "the drain committed unwritten records";
  EXPECT_TRUE(consumeAll(f.plain, f.dead, 0, 2s, 10s).empty()) << "dead-lettered only for the wrong password";
  EXPECT_TRUE(consumeAll(f.plain, f.out, 0, 1s, 5s).empty());

  // The same group with the right password: every id arrives.
  RuntimeProcess right;
  right.start(freeLoopbackPort(), {"--config", f.writeConfig("right", kPasswordEnv)}, f.dir + "/right.log");
  ASSERT_TRUE(right.waitReady(60s)) << right.log();
  auto written = consumeAll(f.plain, f.out, kTotal, 3s, 120s);
  EXPECT_EQ(missingIds(written, kTotal), 0) << "records lost; " << written.size() << " written";
  EXPECT_GE(written.size(), static_cast<size_t>(kTotal));
  right.signal(SIGTERM);
  EXPECT_EQ(right.waitFor(120s), 0) << right.log();
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), kTotal);
  EXPECT_TRUE(consumeAll(f.plain, f.dead, 0, 1s, 5s).empty());
}

TEST(RuntimeBinaryKafkaSinkAuthTest, OutputRecoversInPlaceWhenItsUserIsCreatedOnTheBroker) {
  constexpr int kRecords = 120;
  constexpr const char* kNewUserEnv = "SLUICE_TEST_SINK_NEW_USER";
  constexpr const char* kNewPasswordEnv = "SLUICE_TEST_SINK_NEW_PASSWORD";
  SinkAuthFixture f;
  std::string user = uniqueName("sinkauth-user");
  std::string password = "pw-" + uniqueName("x");
  setenv(kNewUserEnv, user.c_str(), 1);
  setenv(kNewPasswordEnv, password.c_str(), 1);
  produceAll(f.plain, f.in, messages(0, kRecords));

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", f.writeConfig("later", kNewPasswordEnv, kNewUserEnv)},
                f.dir + "/later.log");
  HttpReply ready;
  ASSERT_TRUE(waitUnready(runtime, "authentication", 90s, ready)) << ready.body << "\n" << runtime.log();
  EXPECT_EQ(metric(runtime.port(), "sluice_runtime_events_processed_total", "trigger=\"in\""), 0);

  // The broker starts accepting the credentials: no restart needed.
  setScramUser(f.plain, user, password);
  auto fixed = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime.waitReady(90s)) << httpGet(runtime.port(), "/readyz").body << "\n" << runtime.log();
  double secondsToReady = std::chrono::duration<double>(std::chrono::steady_clock::now() - fixed).count();
  std::cout << "time from the user's creation to /readyz 200: " << secondsToReady << " s\n";
  ::testing::Test::RecordProperty("seconds_to_ready_again", std::to_string(secondsToReady));
  auto written = consumeAll(f.plain, f.out, kRecords, 3s, 120s);
  EXPECT_EQ(missingIds(written, kRecords), 0) << "records lost; " << written.size() << " written";
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), kRecords);
  EXPECT_TRUE(consumeAll(f.plain, f.dead, 0, 1s, 5s).empty());
  setScramUser(f.plain, user, "");
}

TEST(RuntimeBinaryKafkaSinkAuthTest, MissingOutputTopicHoldsRecordsInFlightUntilItIsCreated) {
  constexpr int kRecords = 60;
  SinkAuthFixture f;
  std::string missing = uniqueName("sinkauth-missing");  // not created yet; the test cluster never auto-creates
  produceAll(f.plain, f.in, messages(0, kRecords));

  RuntimeProcess runtime;
  auto started = std::chrono::steady_clock::now();
  runtime.start(freeLoopbackPort(), {"--config", f.writeConfig("missing", kPasswordEnv, kUserEnv, missing)},
                f.dir + "/missing.log");
  // The records are taken and handled; librdkafka fails their writes with an unknown topic once
  // topic.metadata.propagation.max.ms (30 s) has passed.
  HttpReply ready;
  ASSERT_TRUE(waitUnready(runtime, "nknown topic", 90s, ready)) << ready.body << "\n" << runtime.log();
  std::cout << "time from process start to /readyz 503 (unknown topic): "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";
  EXPECT_NE(ready.body.find("kafka output \"" + missing + "\""), std::string::npos) << ready.body;
  double failed = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (failed < 1 && std::chrono::steady_clock::now() < deadline) {
    failed = metric(runtime.port(), "sluice_runtime_events_failed_total", "trigger=\"in\"");
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(failed, 1) << "no write failed, so nothing was in flight\n" << runtime.log();
  // maxAttempts is 1: a failure counted as an attempt would have been dead-lettered by now.
  EXPECT_EQ(metric(runtime.port(), "sluice_runtime_events_dead_lettered_total", "trigger=\"in\""), 0);
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), 0);

  createTopic(f.plain, missing, kPartitions);
  auto created = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime.waitReady(90s)) << httpGet(runtime.port(), "/readyz").body << "\n" << runtime.log();
  std::cout << "time from the topic's creation to /readyz 200: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - created).count() << " s\n";
  auto written = consumeAll(f.plain, missing, kRecords, 3s, 120s);
  EXPECT_EQ(missingIds(written, kRecords), 0) << "records lost; " << written.size() << " written";
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), kRecords);
  EXPECT_TRUE(consumeAll(f.plain, f.dead, 0, 1s, 5s).empty());
}

TEST(RuntimeBinaryKafkaSinkAuthTest, UntrustedBrokerCertificateMakesTheReplicaUnready) {
  // The system's public CAs did not sign the test broker's throwaway certificate.
  const std::string wrongCa = "/etc/ssl/certs/ca-certificates.crt";
  if (!std::filesystem::exists(wrongCa)) GTEST_SKIP() << wrongCa << " is missing (package ca-certificates)";
  SinkAuthFixture f;
  produceAll(f.plain, f.in, messages(0, 20));
  RuntimeProcess runtime;
  auto started = std::chrono::steady_clock::now();
  runtime.start(freeLoopbackPort(),
                {"--config", f.writeConfig("wrongca", kPasswordEnv, kUserEnv, "", wrongCa), "--drain-grace", "2"},
                f.dir + "/wrongca.log");
  HttpReply ready;
  ASSERT_TRUE(waitUnready(runtime, "SSL", 90s, ready)) << ready.body << "\n" << runtime.log();
  std::cout << "time from process start to /readyz 503 (TLS handshake): "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";
  EXPECT_NE(ready.body.find("output \"out\": kafka output \"" + f.out + "\""), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("certificate verify failed"), std::string::npos) << ready.body;
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(committedOffsetSum(f.plain, f.group, f.in, kPartitions), 0);
  EXPECT_TRUE(consumeAll(f.plain, f.dead, 0, 1s, 5s).empty());
}

}  // namespace
}  // namespace sluice::testing
