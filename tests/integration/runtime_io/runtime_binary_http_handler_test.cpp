// spec.protocol http end to end on one machine (docs/handler-images.md): the
// real sluice-runtime binary, run as --local runs a replica, delivering 1,000
// real Kafka records to a Node.js HTTP handler (images/byo/node-handler.js,
// the e2e image's own) over localhost. The handler answers 500 to "poison",
// which is retried and dead-lettered; the node process is killed with
// SIGKILL mid-run, which ends the runtime (a handler crash) and both are
// started again, as the kubelet restarts a pod's containers. Every other
// record reaches the output: none is lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "runtime_process.h"

extern char** environ;

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kRecords = 1000;
constexpr int kMaxAttempts = 3;

// /usr/bin/node serving images/byo/node-handler.js on `port`; SIGKILLed when destroyed.
class NodeHandler {
 public:
  NodeHandler(int port, std::string logPath) : port_(port), logPath_(std::move(logPath)) {}
  ~NodeHandler() { kill9(); }

  void start() {
    const std::string script = std::string(SLUICE_SOURCE_DIR) + "/images/byo/node-handler.js";
    const std::string portEnv = "PORT=" + std::to_string(port_);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back(portEnv);
    env.push_back("DELAY_MS=20");
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, logPath_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const char* argv[] = {"/usr/bin/node", script.c_str(), nullptr};
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, const_cast<char**>(argv), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
  }

  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // True when it has exited (reaped); false while it runs.
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

 private:
  int port_;
  std::string logPath_;
  pid_t pid_ = -1;
};

std::string headerOf(const runtime::Headers& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

std::string writeHttpFunction(const std::string& dir, const std::string& bootstrap, const std::string& in,
                              const std::string& out, const std::string& dead, const std::string& group,
                              int handlerPort) {
  // Short sessions, as the other restart tests: a dead member's partition moves within seconds.
  json config = json::parse(
      readFile(writeKafkaPythonFunction(dir, "byo-http", "", bootstrap, in, out, group,
                                        {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}})));
  config["runtime"] = "http";
  config.erase("codeDir");
  config.erase("handler");
  config["http"] = {{"port", handlerPort}, {"path", "/"}};
  config["concurrency"] = 8;
  config["timeoutSeconds"] = 10;
  config["triggers"][0]["kafka"]["ordering"] = "none";
  config["triggers"][0]["retry"] = {{"maxAttempts", kMaxAttempts},
                                    {"backoff", {{"initialDelay", "50ms"}, {"maxDelay", "200ms"}}}};
  config["triggers"][0]["deadLetter"] = {{"kafka", {{"bootstrapServers", bootstrap}, {"topic", dead}}}};
  const std::string path = dir + "/function.json";
  writeFile(path, config.dump(2));
  return path;
}

struct RunOutcome {
  std::vector<int> runtimeExits;
  int nodeKills = 0;
};

// Runs the runtime and the node handler until every record is committed,
// killing node once it has handled 300 (its log says so every 100); restarts whichever of the two exited, as
// the kubelet does. Bounded: a hang fails the test.
RunOutcome runKillingNodeOnce(const std::string& configPath, const std::string& dir, int handlerPort,
                              const std::function<int64_t()>& committed, int64_t total) {
  RunOutcome outcome;
  NodeHandler node(handlerPort, dir + "/node.log");
  node.start();
  RuntimeProcess replica;
  replica.start(freeLoopbackPort(), {"--config", configPath}, dir + "/runtime-0.log");
  const auto deadline = std::chrono::steady_clock::now() + 400s;
  while (std::chrono::steady_clock::now() < deadline && committed() < total) {
    if (outcome.nodeKills == 0 && readFile(dir + "/node.log").find("handled 300\n") != std::string::npos) {
      node.kill9();
      ++outcome.nodeKills;
      std::cout << "node killed after 300 handled, " << committed() << " committed\n";
    }
    if (node.exited()) node.start();
    if (int code = replica.waitFor(200ms); code >= 0) {
      outcome.runtimeExits.push_back(code);
      if (outcome.runtimeExits.size() > 5) break;
      replica.start(freeLoopbackPort(), {"--config", configPath},
                    dir + "/runtime-" + std::to_string(outcome.runtimeExits.size()) + ".log");
    }
  }
  EXPECT_EQ(committed(), total) << "last runtime log:\n" << replica.log();
  replica.signal(SIGTERM);
  EXPECT_EQ(replica.wait(), 0) << replica.log();
  return outcome;
}

TEST(RuntimeBinaryHttpHandlerTest, NodeHandlerGetsEveryKafkaRecordThroughAKillAndThePoisonIsDeadLettered) {
  const std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string in = uniqueName("byo-in");
  const std::string out = uniqueName("byo-out");
  const std::string dead = uniqueName("byo-dead");
  const std::string group = uniqueName("byo-group");
  const std::string dir = makeTempDir("byo-http");
  createTopic(bootstrap, in, 2);
  createTopic(bootstrap, out, 1);
  createTopic(bootstrap, dead, 1);
  const int handlerPort = freeLoopbackPort();
  const std::string configPath = writeHttpFunction(dir, bootstrap, in, out, dead, group, handlerPort);

  std::vector<TestMessage> messages;
  for (int i = 0; i < kRecords; ++i) {
    if (i == kRecords / 2) messages.push_back({"poison", "poison", {}});
    messages.push_back({"k" + std::to_string(i % 13), "r" + std::to_string(i), {}});
  }
  produceAll(bootstrap, in, messages);
  const auto committed = [&]() -> int64_t {
    try {
      return committedOffsetSum(bootstrap, group, in, 2);
    } catch (const std::exception&) {
      return 0;  // the group coordinator is loading or moving: ask again
    }
  };
  const RunOutcome outcome = runKillingNodeOnce(configPath, dir, handlerPort, committed, messages.size());

  std::set<std::string> seen;
  for (const ConsumedRecord& record : consumeAll(bootstrap, out, kRecords, 2s, 60s)) {
    EXPECT_NE(record.value, "handled:poison");
    seen.insert(record.value);
  }
  int lost = 0;
  for (int i = 0; i < kRecords; ++i) lost += seen.count("handled:r" + std::to_string(i)) ? 0 : 1;
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords));
  const std::vector<ConsumedRecord> deadLettered = consumeAll(bootstrap, dead, 1, 2s, 60s);
  ASSERT_EQ(deadLettered.size(), 1u);
  EXPECT_EQ(deadLettered[0].value, "poison");
  const std::string error = headerOf(deadLettered[0].headers, "x-sluice-error");
  EXPECT_NE(error.find("http handler answered HTTP 500: poison record refused"), std::string::npos) << error;
  // The kill ended the runtime as a handler crash (exit 5); nothing else did.
  EXPECT_EQ(outcome.nodeKills, 1);
  ASSERT_FALSE(outcome.runtimeExits.empty()) << "the runtime did not notice its handler die";
  for (int code : outcome.runtimeExits) EXPECT_EQ(code, 5);
  std::cout << "records " << kRecords << ", lost " << lost << ", output records " << seen.size() << ", runtime exits "
            << outcome.runtimeExits.size() << "\n";
}

}  // namespace
}  // namespace sluice::testing
