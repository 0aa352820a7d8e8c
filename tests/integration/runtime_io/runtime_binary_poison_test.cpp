// Poison records against the real Kafka and RabbitMQ, with the real
// sluice-runtime binary and a Python handler (issue 16): a record whose
// handler kills the process (os._exit(139)) and one whose handler spins,
// swallowing the TimeoutError its timeout raises, each reach the trigger's
// dead letter with x-sluice-error naming the cause after exactly maxAttempts
// process exits, the process being restarted after every exit as Kubernetes
// would. Every other record of the partition (or queue) reaches the output:
// none is lost, none is dead-lettered. RabbitMQ: classic and quorum queues,
// 3 replicas prefetching 50 each.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
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

// Crashes on "crash", spins on "spin" (catching the TimeoutError the
// runtime raises at the timeout, so the call never ends), echoes the rest.
constexpr const char* kPoisonHandler = R"PY(
import os

def main_handler(event, context):
    body = event["data"]
    if body == "crash":
        os._exit(139)
    if body == "spin":
        while True:
            try:
                sum(range(1000))
            except BaseException:
                pass
    return {"value": body, "key": event["key"]}
)PY";

constexpr int kRecords = 10000;
constexpr int kMaxAttempts = 2;
constexpr const char* kExpectedError =
    "Internal: process exited while handling this record (exit 2 of 2): it crashed, or outlived its timeout and the "
    "runtime restarted";

std::string headerOf(const runtime::Headers& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

// The last `count` lines of `text`, each indented, for a failure's record.
std::string lastLines(const std::string& text, size_t count) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += "    " + lines[i] + "\n";
  return out;
}

// Runs the runtime, restarting it after every exit, until `done` holds;
// returns the exit codes seen. Bounded (a hang fails the test, it does not hold the run).
std::vector<int> runRestartingUntil(const std::vector<std::string>& args, const std::string& logPrefix,
                                    const std::function<bool()>& done) {
  std::vector<int> exits;
  RuntimeProcess replica;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + 400s;
  replica.start(freeLoopbackPort(), args, logPrefix + "-0.log");
  while (std::chrono::steady_clock::now() < deadline) {
    int code = replica.waitFor(500ms);
    if (code >= 0) {
      exits.push_back(code);
      const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::cout << "runtime exited with " << code << " at " << at << " s (exit " << exits.size() << "); restarting\n";
      // Not a poison record's crash (139) or hang (3): its log says why.
      if (code != 139 && code != 3) std::cout << lastLines(replica.log(), 30);
      if (exits.size() > 8) break;  // far more than two poison records may cause
      replica.start(freeLoopbackPort(), args, logPrefix + "-" + std::to_string(exits.size()) + ".log");
      continue;
    }
    if (done()) break;
  }
  EXPECT_TRUE(done()) << "not finished after " << exits.size() << " exit(s); last log:\n" << replica.log();
  std::cout << "finished at " << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
  replica.signal(SIGTERM);
  EXPECT_EQ(replica.wait(), 0) << replica.log();
  return exits;
}

TEST(RuntimeBinaryPoisonTest, KafkaRecordsThatKillOrHangTheProcessAreDeadLetteredAndNoOtherIsLost) {
  const std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string in = uniqueName("poison-in");
  const std::string out = uniqueName("poison-out");
  const std::string dead = uniqueName("poison-dead");
  const std::string group = uniqueName("poison-group");
  const std::string dir = makeTempDir("poison");
  createTopic(bootstrap, in, 1);
  createTopic(bootstrap, out, 1);
  createTopic(bootstrap, dead, 1);
  // Short sessions, as the other restart tests: a dead member's partition moves within seconds.
  std::string configPath = writeKafkaPythonFunction(dir, "poison", kPoisonHandler, bootstrap, in, out, group,
                                                    {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}});
  json config = json::parse(readFile(configPath));
  config["timeoutSeconds"] = 1;
  config["triggers"][0]["retry"] = {{"maxAttempts", kMaxAttempts}};
  config["triggers"][0]["deadLetter"] = {{"kafka", {{"bootstrapServers", bootstrap}, {"topic", dead}}}};
  writeFile(configPath, config.dump(2));

  std::vector<TestMessage> messages;
  const int crashAt = kRecords / 3;
  const int spinAt = 2 * kRecords / 3;
  for (int i = 0; i < kRecords; ++i) {
    if (i == crashAt) messages.push_back({"poison", "crash", {}});
    if (i == spinAt) messages.push_back({"poison", "spin", {}});
    messages.push_back({"k" + std::to_string(i % 17), "r" + std::to_string(i), {}});
  }
  produceAll(bootstrap, in, messages);

  const auto started = std::chrono::steady_clock::now();
  std::vector<int> exits = runRestartingUntil({"--config", configPath}, dir + "/runtime", [&] {
    try {
      return committedOffsetSum(bootstrap, group, in, 1) == static_cast<int64_t>(messages.size());
    } catch (const std::exception&) {
      return false;  // the group coordinator is loading or moving: ask again
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::set<std::string> seen;
  size_t written = 0;
  for (const ConsumedRecord& record : consumeAll(bootstrap, out, kRecords, 2s, 60s)) {
    EXPECT_NE(record.value, "crash");
    EXPECT_NE(record.value, "spin");
    seen.insert(record.value);
    ++written;
  }
  const size_t lost = kRecords - seen.size();
  EXPECT_EQ(lost, 0u);
  std::vector<ConsumedRecord> deadLettered = consumeAll(bootstrap, dead, 2, 2s, 60s);
  std::map<std::string, std::string> errors;
  for (const ConsumedRecord& record : deadLettered) errors[record.value] = headerOf(record.headers, "x-sluice-error");
  EXPECT_EQ(deadLettered.size(), 2u);
  EXPECT_EQ(errors, (std::map<std::string, std::string>{{"crash", kExpectedError}, {"spin", kExpectedError}}));
  // Each poison record: exactly kMaxAttempts exits, the first in steady
  // state (unattributed), the rest handling it alone behind a crash mark.
  int crashes = 0;
  int hangs = 0;
  for (int code : exits) {
    crashes += code == 139 ? 1 : 0;
    hangs += code == 3 ? 1 : 0;  // the runtime exits 3 when a call outlives its timeout and grace
  }
  EXPECT_EQ(crashes + hangs, static_cast<int>(exits.size())) << "only the two poison records end the process";
  EXPECT_EQ(crashes, kMaxAttempts);
  EXPECT_EQ(hangs, kMaxAttempts);
  std::cout << "kafka: " << exits.size() << " exits (" << crashes << " crashes, " << hangs << " hangs), " << written
            << " outputs for " << kRecords << " records (" << written - seen.size() << " duplicates), lost " << lost
            << ", all committed after " << seconds << " s\n";
  std::filesystem::remove_all(dir);
}

// Like runRestartingUntil, with `replicas` processes each restarted after
// its exit (every exit is one process death, as Kubernetes restarts a pod's
// container); returns every exit code of them all.
std::vector<int> runReplicasRestartingUntil(int replicas, const std::vector<std::string>& args,
                                            const std::string& logPrefix, const std::function<bool()>& done) {
  std::vector<int> exits;
  std::vector<std::unique_ptr<RuntimeProcess>> processes;
  const auto started = std::chrono::steady_clock::now();
  auto launch = [&](int i) {
    processes[i]->start(freeLoopbackPort(), args,
                        logPrefix + "-r" + std::to_string(i) + "-" + std::to_string(exits.size()) + ".log");
  };
  for (int i = 0; i < replicas; ++i) {
    processes.push_back(std::make_unique<RuntimeProcess>());
    launch(i);
  }
  // Done once `done` has held for kSettled with no exit: the last poison
  // message is dead-lettered by the replica that handled it, just before that
  // replica exits, and its exit puts what else it held back in the queues for
  // a moment (seen in CI: done, then not, 0.1 s later).
  constexpr auto kSettled = 2s;
  const auto deadline = started + 500s;
  std::optional<std::chrono::steady_clock::time_point> doneSince;
  bool finished = false;
  while (std::chrono::steady_clock::now() < deadline && exits.size() <= 12) {
    bool exited = false;
    for (int i = 0; i < replicas; ++i) {
      int code = processes[i]->waitFor(100ms);
      if (code < 0) continue;
      exits.push_back(code);
      exited = true;
      std::cout << "replica " << i << " exited with " << code << " at "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s (exit "
                << exits.size() << "); restarting\n";
      // Not a poison message's crash (139) or hang (3): its log says why (the folder is removed at the end).
      if (code != 139 && code != 3) std::cout << lastLines(processes[i]->log(), 30);
      launch(i);
    }
    if (exited || !done()) {
      doneSince.reset();
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!doneSince) doneSince = now;
    if (now - *doneSince >= kSettled) {
      finished = true;
      break;
    }
  }
  EXPECT_TRUE(finished) << "not finished after " << exits.size() << " exit(s); a log:\n" << processes[0]->log();
  // A death just before the end (the poison's last: another replica
  // dead-letters it within milliseconds, before this loop looked) is an exit
  // like the others. A replica restarted a moment ago is let finish starting
  // (or die) first, so that the stop is a clean drain, exiting 0.
  for (auto& process : processes) {
    int code = -1;
    for (int i = 0; i < 600 && code < 0 && httpGet(process->port(), "/readyz").code != 200; ++i) {
      code = process->waitFor(100ms);
    }
    if (code < 0) {
      process->signal(SIGTERM);
      code = process->wait();
    }
    if (code != 0) {
      std::cout << "a replica exited with " << code << " at the stop\n";
      exits.push_back(code);
    }
  }
  return exits;
}

uint32_t readyOrZero(const std::string& url, const std::string& queue) {
  try {
    return readyCount(url, queue);
  } catch (const std::exception&) {
    return 0;  // not declared (yet)
  }
}

constexpr int kAmqpMaxAttempts = 3;
constexpr int kAmqpReplicas = 3;

// The handler is as above; the RabbitMQ source moves every redelivered
// message to "<queue>.sluice-probation" and handles those one at a time
// (rabbitmq_source.h), so with 50 messages prefetched by each of 3 replicas,
// the 100-odd innocent neighbours of each death are never charged, and each
// poison message is dead-lettered after exactly maxAttempts process exits:
// the first among many, the rest with it alone.
void poisonMessagesAreDeadLetteredAfterExactlyMaxAttemptsExits(bool quorum) {
  const std::string url = requiredEnv("RABBITMQ_AMQP_URL");
  const std::string in = uniqueName("poison-in");
  const std::string probation = in + ".sluice-probation";
  const std::string out = uniqueName("poison-out");
  const std::string dead = uniqueName("poison-dead");
  const std::string dir = makeTempDir("poison-amqp");
  declareQueue(url, in, "", quorum);
  declareQueue(url, out);
  declareQueue(url, dead);
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", kPoisonHandler);
  json rabbit = {{"urlEnv", "RABBITMQ_AMQP_URL"}};
  json trigger = rabbit;
  trigger["queue"] = in;
  trigger["prefetch"] = 50;
  trigger["maxAttempts"] = kAmqpMaxAttempts;
  trigger["deadLetterQueue"] = dead;
  json output = rabbit;
  output["routingKey"] = out;
  json config = {{"name", "poison"},
                 {"runtime", "python3.11"},
                 {"codeDir", dir + "/code"},
                 {"timeoutSeconds", 1},
                 {"outputs", json::array({{{"name", "out"}, {"rabbitmq", output}}})},
                 {"triggers", json::array({{{"name", "orders"}, {"rabbitmq", trigger}}})}};
  const std::string configPath = dir + "/function.json";
  writeFile(configPath, config.dump(2));

  std::vector<AmqpMessage> messages;
  for (int i = 0; i < kRecords; ++i) {
    if (i == kRecords / 3) messages.push_back({"crash", "crash", {}});
    if (i == 2 * kRecords / 3) messages.push_back({"spin", "spin", {}});
    messages.push_back({"m" + std::to_string(i), "r" + std::to_string(i), {}});
  }
  publishAll(url, in, messages);

  const auto started = std::chrono::steady_clock::now();
  double deadLetteredAt = -1;
  std::vector<int> exits = runReplicasRestartingUntil(kAmqpReplicas, {"--config", configPath}, dir + "/runtime", [&] {
    if (deadLetteredAt < 0 && readyCount(url, dead) >= 2) {
      deadLetteredAt = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
    return deadLetteredAt >= 0 && readyCount(url, out) >= static_cast<uint32_t>(kRecords) && readyCount(url, in) == 0 &&
           readyOrZero(url, probation) == 0;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Stopped (drained): nothing is left behind in either queue.
  EXPECT_EQ(readyCount(url, in), 0u);
  EXPECT_EQ(readyOrZero(url, probation), 0u);
  std::set<std::string> seen;
  size_t written = 0;
  for (const AmqpMessage& message : consumeQueue(url, out, kRecords, 2s, 60s)) {
    EXPECT_NE(message.body, "crash");
    EXPECT_NE(message.body, "spin");
    seen.insert(message.body);
    ++written;
  }
  const size_t lost = kRecords - seen.size();
  EXPECT_EQ(lost, 0u);
  const std::string expected = "Internal: process exited while handling this message (exit " +
                               std::to_string(kAmqpMaxAttempts) + " of " + std::to_string(kAmqpMaxAttempts) +
                               ", each after the first with it handled alone): it crashed, or outlived its timeout "
                               "and the runtime restarted";
  std::map<std::string, std::string> errors;
  std::vector<AmqpMessage> deadLettered = consumeQueue(url, dead, 2, 2s, 60s);
  for (const AmqpMessage& message : deadLettered) {
    auto error = message.headers.find("x-sluice-error");
    errors[message.body] = error == message.headers.end() ? "" : error->second;
  }
  // Exactly the two poison messages: no innocent neighbour of a death.
  EXPECT_EQ(deadLettered.size(), 2u);
  EXPECT_EQ(errors, (std::map<std::string, std::string>{{"crash", expected}, {"spin", expected}}));
  int crashes = 0;
  int hangs = 0;
  for (int code : exits) {
    crashes += code == 139 ? 1 : 0;
    hangs += code == 3 ? 1 : 0;  // the runtime exits 3 when a call outlives its timeout and grace
  }
  EXPECT_EQ(crashes, kAmqpMaxAttempts);
  EXPECT_EQ(hangs, kAmqpMaxAttempts);
  EXPECT_EQ(exits.size(), static_cast<size_t>(2 * kAmqpMaxAttempts)) << "only the two poison messages end a process";
  std::cout << "rabbitmq " << (quorum ? "quorum" : "classic") << ", " << kAmqpReplicas
            << " replicas, prefetch 50: " << exits.size() << " exits (" << crashes << " crashes, " << hangs
            << " hangs), both dead-lettered after " << deadLetteredAt << " s, " << written << " outputs for "
            << kRecords << " messages (" << written - seen.size() << " duplicates), lost " << lost << ", done after "
            << seconds << " s\n";
  for (const auto& queue : {in, probation, out, dead}) deleteQueue(url, queue);
  std::filesystem::remove_all(dir);
}

TEST(RuntimeBinaryPoisonTest, RabbitMqClassicQueueMessagesThatKillOrHangTheProcessAreDeadLetteredAndNoOtherIsLost) {
  poisonMessagesAreDeadLetteredAfterExactlyMaxAttemptsExits(/*quorum=*/false);
}

TEST(RuntimeBinaryPoisonTest, RabbitMqQuorumQueueMessagesThatKillOrHangTheProcessAreDeadLetteredAndNoOtherIsLost) {
  poisonMessagesAreDeadLetteredAfterExactlyMaxAttemptsExits(/*quorum=*/true);
}

}  // namespace
}  // namespace sluice::testing
