// The replica's Kafka path against the real broker (KAFKA_BOOTSTRAP):
// N in -> N out matched by id, the always-failing subset in the dead-letter
// topic, per-key order, SIGKILL of replicas frozen mid-stream (nothing lost,
// nothing written twice), and graceful drains (zero duplicates).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_util.h"
#include "replica_process.h"
#include "request_gate.h"
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

int waitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

constexpr int kPartitions = 6;
constexpr int kChunk = 600;  // ~100 per partition (keys k0..k63 spread over all six)

// Two replica children sharing the group, each with its own gate, and the
// stream the test produces for them in step with its stops. Whatever replicas
// are left when it goes (a failed assertion) are SIGKILLed.
class GatedReplicas {
 public:
  explicit GatedReplicas(const Topics& topics) : topics_(topics) {
    replicas_.push_back(spawn());
    replicas_.push_back(spawn());
    produceChunk();
  }
  ~GatedReplicas() {
    for (Member& replica : replicas_) {
      if (replica.pid > 0 && ::kill(replica.pid, SIGKILL) == 0) waitExit(replica.pid);
    }
  }
  GatedReplicas(const GatedReplicas&) = delete;
  GatedReplicas& operator=(const GatedReplicas&) = delete;

  // Messages produced so far: "m-0".."m-<produced-1>".
  int produced() const { return produced_; }

  // `stops` times, one of the two is stopped with `signal` and replaced. Each
  // stop lands mid-stream by construction:
  //  1. the group has settled: two members, all six partitions assigned, no
  //     rebalance under way (the coordinator's view);
  //  2. only then is the victim's gate armed (no other replica is ever held,
  //     so no rebalance waits for a held event), and chunks are produced
  //     until the victim waits at its gate with an event in hand: its handler
  //     runs one event at a time, so from then on it completes nothing;
  //  3. for SIGKILL, once its committed offsets read the same six times in a
  //     row, 200 ms apart (a second, many times its commit cadence), so every
  //     record it completed is committed;
  //  4. the signal; a draining replica gets its gate opened and finishes the
  //     held batch; a killed one is gone before its gate opens;
  //  5. a replacement starts, and another chunk is produced while it joins.
  void stopInTurn(int stops, int signal) {
    for (int stop = 0; stop < stops; ++stop) {
      Member& victim = replicas_[stop % 2];
      std::vector<int32_t> victimPartitions;
      ASSERT_TRUE(waitUntil(120s,
                            [&] {
                              GroupState group = describeGroup(topics_.bootstrap, topics_.group);
                              victimPartitions = group.partitionsOf(replicaClientId(victim.pid));
                              return group.settled(2, kPartitions) && !victimPartitions.empty();
                            }))
          << "stop " << stop << ": the group never settled with two members";

      armGate(victim.pid);
      ASSERT_TRUE(waitUntil(120s,
                            [&] {
                              produceChunk();
                              return victim.gate->waitForRequests(1, 2s);
                            }))
          << "stop " << stop << ": the victim never reached its gate";

      if (signal == SIGKILL) {
        std::vector<int64_t> committed;
        int unchanged = 0;
        ASSERT_TRUE(waitUntil(60s,
                              [&] {
                                std::vector<int64_t> now;
                                try {
                                  now =
                                      committedOffsets(topics_.bootstrap, topics_.group, topics_.in, victimPartitions);
                                } catch (const std::runtime_error&) {  // the coordinator is busy: ask again
                                  unchanged = 0;
                                  return false;
                                }
                                unchanged = now == committed ? unchanged + 1 : 0;
                                committed = now;
                                return unchanged >= 5;
                              }))
            << "stop " << stop << ": the victim's commits never settled";
      }
      ::kill(victim.pid, signal);
      if (signal != SIGKILL) victim.gate->open();
      EXPECT_EQ(waitExit(victim.pid), signal == SIGKILL ? 128 + SIGKILL : 0) << "stop " << stop;
      victim.pid = 0;
      victim = spawn();
      produceChunk();
    }
  }

  // Drains the two left (SIGTERM); each exits 0.
  void drainAll() {
    for (Member& replica : replicas_) {
      ::kill(replica.pid, SIGTERM);
      EXPECT_EQ(waitExit(replica.pid), 0) << "a drained replica exits 0";
      replica.pid = 0;
    }
  }

 private:
  struct Member {
    pid_t pid = 0;
    std::unique_ptr<RequestGate> gate;
  };

  Member spawn() {
    Member member;
    member.gate = std::make_unique<RequestGate>();
    TestReplicaConfig config = topics_.config(/*delayMicros=*/100);
    config.gatePort = member.gate->port();
    member.pid = spawnReplica(config);
    return member;
  }

  void produceChunk() {
    produceAll(topics_.bootstrap, topics_.in, makeMessages(produced_, produced_ + kChunk, /*failEvery=*/0));
    produced_ += kChunk;
  }

  const Topics& topics_;
  std::vector<Member> replicas_;
  int produced_ = 0;
};

// `stops` stops with `signal` mid-stream (GatedReplicas::stopInTurn), then
// every id must reach the output exactly once.
void expectEveryIdOnceAfterStops(int stops, int signal, const std::string& what) {
  Topics topics(kPartitions);
  GatedReplicas replicas(topics);
  ASSERT_NO_FATAL_FAILURE(replicas.stopInTurn(stops, signal));
  const int messages = replicas.produced();
  StreamResult result = checkStream(topics, messages);
  replicas.drainAll();
  EXPECT_EQ(result.missing, 0u) << "ids lost after " << what;
  EXPECT_EQ(result.unique, static_cast<size_t>(messages));
  EXPECT_EQ(result.total, result.unique) << (result.total - result.unique) << " duplicates after " << what;
  std::cout << "[figure] " << what << ", 2 replicas: " << messages << " ids, " << result.total << " records, "
            << (result.total - result.unique) << " duplicates\n";
}

// SIGKILL: a record is written twice only when the victim wrote its output and
// had not committed its offset. It is killed frozen at its gate (the held
// event's batch writes its outputs only after the whole batch is handled) and
// after everything it completed is committed, so nothing is: 0 duplicates.
// What it held, had fetched or had in flight is read again by the next owner
// of its partitions: no loss.
TEST(KafkaDeliveryTest, SigkillOfReplicasMidStreamLosesNothing) {
  expectEveryIdOnceAfterStops(5, SIGKILL, "SIGKILL x5");
}

// SIGTERM: the leaving replica finishes what it holds, commits it, then leaves
// the group; the next owner starts at that commit: 0 duplicates.
TEST(KafkaDeliveryTest, GracefulDrainsMidStreamCauseNoDuplicates) {
  expectEveryIdOnceAfterStops(3, SIGTERM, "SIGTERM drain x3");
}

}  // namespace
}  // namespace sluice::testing
