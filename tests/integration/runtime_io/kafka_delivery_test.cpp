// The replica's Kafka path against the real broker (KAFKA_BOOTSTRAP):
// N in -> N out matched by id, the always-failing subset in the dead-letter
// topic, per-key order, SIGKILL of replicas mid-stream (at-least-once, the
// duplicate rate is printed), and graceful drains (zero duplicates).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_util.h"
#include "replica_process.h"
#include "runtime/delivery/delivery_loop.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::string headerValue(const runtime::Headers& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "<missing " + name + ">";
}

struct Topics {
  std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  std::string in = uniqueName("rt-in");
  std::string out = uniqueName("rt-out");
  std::string dead = uniqueName("rt-dlq");
  std::string group = uniqueName("rt-group");
  explicit Topics(int partitions) {
    createTopic(bootstrap, in, partitions);
    createTopic(bootstrap, out, partitions);
    createTopic(bootstrap, dead, 1);
  }
  TestReplicaConfig config(int delayMicros = 0) const {
    return TestReplicaConfig{bootstrap, in, out, dead, group, "fail-", delayMicros};
  }
};

// Message i: key "k<i % 64>", value "m-<i>" (or "fail-<i>" for failing ones), header seq=i.
std::vector<TestMessage> makeMessages(int from, int to, int failEvery) {
  std::vector<TestMessage> messages;
  for (int i = from; i < to; ++i) {
    bool fail = failEvery > 0 && i % failEvery == 0;
    messages.push_back(
        {"k" + std::to_string(i % 64), (fail ? "fail-" : "m-") + std::to_string(i), {{"seq", std::to_string(i)}}});
  }
  return messages;
}

TEST(KafkaDeliveryTest, EveryMessageArrivesByIdInKeyOrderAndAlwaysFailingOnesAreDeadLettered) {
  constexpr int kMessages = 100000;
  constexpr int kFailEvery = 1000;  // 100 always-failing messages
  Topics topics(6);
  produceAll(topics.bootstrap, topics.in, makeMessages(0, kMessages, kFailEvery));

  runtime::RuntimeMetrics metrics;
  auto replica = makeTestReplica(topics.config(), metrics);
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(replica->start().isOk());
  auto out = consumeAll(topics.bootstrap, topics.out, kMessages - kMessages / kFailEvery, 2s, 300s);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto dead = consumeAll(topics.bootstrap, topics.dead, kMessages / kFailEvery, 1s, 60s);
  ASSERT_TRUE(replica->drain(30s).isOk());

  std::set<std::string> expectedOut;
  std::set<std::string> expectedDead;
  for (const auto& m : makeMessages(0, kMessages, kFailEvery)) {
    (m.value.starts_with("fail-") ? expectedDead : expectedOut).insert(m.value);
  }
  std::set<std::string> gotOut;
  std::map<std::string, int> lastSeqByKey;
  int outOfOrder = 0;
  for (const auto& r : out) {
    gotOut.insert(r.value);
    int seq = std::stoi(headerValue(r.headers, "seq"));
    auto [it, inserted] = lastSeqByKey.try_emplace(r.key, seq);
    if (!inserted) {
      if (seq < it->second) ++outOfOrder;
      it->second = seq;
    }
  }
  EXPECT_EQ(out.size(), expectedOut.size()) << "duplicates or losses in the output topic";
  EXPECT_EQ(gotOut, expectedOut);
  EXPECT_EQ(outOfOrder, 0) << "records of one key must keep their order";

  std::set<std::string> gotDead;
  for (const auto& r : dead) {
    gotDead.insert(r.value);
    EXPECT_EQ(headerValue(r.headers, runtime::kDeadLetterErrorHeader), "Internal: always fails: " + r.value);
    EXPECT_EQ(headerValue(r.headers, runtime::kDeadLetterAttemptsHeader), "3");
    EXPECT_TRUE(headerValue(r.headers, runtime::kDeadLetterSourceHeader).starts_with("kafka:" + topics.in + "/"));
    EXPECT_EQ(r.key, "k" + std::to_string(std::stoi(r.value.substr(5)) % 64));
  }
  EXPECT_EQ(dead.size(), expectedDead.size());
  EXPECT_EQ(gotDead, expectedDead);
  EXPECT_EQ(metrics.counterValue("processed", "orders"), kMessages - kMessages / kFailEvery);
  EXPECT_EQ(metrics.counterValue("dead_lettered", "orders"), kMessages / kFailEvery);
  EXPECT_EQ(metrics.counterValue("retried", "orders"), 2 * kMessages / kFailEvery);
  std::cout << "[figure] one replica, C++ echo handler: " << kMessages << " events in " << seconds << " s ("
            << kMessages / seconds << " events/s including the consumer's read-back)\n";
}

struct StreamResult {
  size_t total = 0;
  size_t unique = 0;
  size_t missing = 0;
};

StreamResult checkStream(const Topics& topics, int messages) {
  auto out = consumeAll(topics.bootstrap, topics.out, messages, 5s, 240s);
  std::set<std::string> got;
  for (const auto& r : out) got.insert(r.value);
  StreamResult result;
  result.total = out.size();
  result.unique = got.size();
  for (int i = 0; i < messages; ++i) {
    if (!got.contains("m-" + std::to_string(i))) ++result.missing;
  }
  return result;
}

// Produces `messages` over roughly `spread`, in a background thread.
std::thread produceSpread(const Topics& topics, int messages, std::chrono::milliseconds spread) {
  return std::thread([&topics, messages, spread] {
    constexpr int kBatches = 40;
    for (int b = 0; b < kBatches; ++b) {
      produceAll(topics.bootstrap, topics.in,
                 makeMessages(b * messages / kBatches, (b + 1) * messages / kBatches, /*failEvery=*/0));
      std::this_thread::sleep_for(spread / kBatches);
    }
  });
}

int waitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

TEST(KafkaDeliveryTest, SigkillOfReplicasMidStreamLosesNothing) {
  constexpr int kMessages = 30000;
  Topics topics(6);
  auto config = topics.config(/*delayMicros=*/100);
  std::vector<pid_t> replicas = {spawnReplica(config), spawnReplica(config)};
  std::thread producer = produceSpread(topics, kMessages, 12s);
  for (int kill = 0; kill < 5; ++kill) {
    std::this_thread::sleep_for(2s);
    pid_t victim = replicas[kill % 2];
    ::kill(victim, SIGKILL);
    EXPECT_EQ(waitExit(victim), 128 + SIGKILL);
    replicas[kill % 2] = spawnReplica(config);
  }
  producer.join();
  StreamResult result = checkStream(topics, kMessages);
  for (pid_t pid : replicas) {
    ::kill(pid, SIGTERM);
    EXPECT_EQ(waitExit(pid), 0);
  }
  EXPECT_EQ(result.missing, 0u) << "ids lost after SIGKILL";
  EXPECT_EQ(result.unique, static_cast<size_t>(kMessages));
  std::cout << "[figure] SIGKILL x5, 2 replicas: " << kMessages << " ids, " << result.total << " records, "
            << (result.total - result.unique) << " duplicates ("
            << 100.0 * static_cast<double>(result.total - result.unique) / kMessages << "%)\n";
}

TEST(KafkaDeliveryTest, GracefulDrainsMidStreamCauseNoDuplicates) {
  constexpr int kMessages = 30000;
  Topics topics(6);
  auto config = topics.config(/*delayMicros=*/100);
  std::vector<pid_t> replicas = {spawnReplica(config), spawnReplica(config)};
  std::thread producer = produceSpread(topics, kMessages, 12s);
  for (int drain = 0; drain < 3; ++drain) {
    std::this_thread::sleep_for(3s);
    pid_t leaving = replicas[drain % 2];
    ::kill(leaving, SIGTERM);
    EXPECT_EQ(waitExit(leaving), 0) << "a drained replica exits 0";
    replicas[drain % 2] = spawnReplica(config);
  }
  producer.join();
  StreamResult result = checkStream(topics, kMessages);
  for (pid_t pid : replicas) {
    ::kill(pid, SIGTERM);
    EXPECT_EQ(waitExit(pid), 0);
  }
  EXPECT_EQ(result.missing, 0u);
  EXPECT_EQ(result.total, static_cast<size_t>(kMessages)) << (result.total - result.unique) << " duplicates";
  std::cout << "[figure] SIGTERM drain x3, 2 replicas: " << kMessages << " ids, " << result.total << " records, "
            << (result.total - result.unique) << " duplicates\n";
}

}  // namespace
}  // namespace sluice::testing
