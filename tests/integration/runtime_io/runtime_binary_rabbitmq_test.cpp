// sluice-runtime BINARY processes with RabbitMQ triggers and outputs against
// the real RabbitMQ (RABBITMQ_AMQP_URL): a Python moderation handler moves
// every message by id to an approved or rejected queue (seed scenario 2);
// always-failing messages go to the trigger's deadLetterQueue with error
// headers, or, without one, are nacked into the queue's own dead-letter
// exchange; graceful SIGTERM drains cause no duplicates (SIGKILLs at scale,
// with the duplicates bounded: duplicates_at_scale_test.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "amqp_test_util.h"
#include "kafka_test_util.h"
#include "request_gate.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Posts containing a banned word go to the "rejected" output, others to the
// default ("approved"); a post marked "explode" always raises. A replica given
// a gate (kPythonWaitAtGate) stops there after its first posts.
constexpr const char* kModerationHandler = R"PY(
import json

BANNED = ("spam", "scam")

def main_handler(event, context):
    wait_at_gate(event["id"])
    post = json.loads(event["data"])
    if post.get("explode"):
        raise ValueError("cannot moderate " + event["id"])
    verdict = {"id": event["id"], "user": post["user"], "attempt": context.attempt}
    if any(word in post["text"].lower() for word in BANNED):
        verdict["reason"] = "banned word"
        return {"value": json.dumps(verdict), "sink": "rejected"}
    return json.dumps(verdict)
)PY";

struct Queues {
  std::string url = requiredEnv("RABBITMQ_AMQP_URL");
  std::string in = uniqueName("rt-posts");
  std::string approved = uniqueName("rt-approved");
  std::string rejected = uniqueName("rt-rejected");
  std::string dead = uniqueName("rt-posts-dlq");
  std::string dir = makeTempDir("rtrmq");

  // `queueDlx`: the input queue dead-letters into `dead` by itself (x-dead-letter-*).
  explicit Queues(bool queueDlx = false) {
    declareQueue(url, dead);
    declareQueue(url, in, queueDlx ? dead : "");
    declareQueue(url, approved);
    declareQueue(url, rejected);
    std::filesystem::create_directories(dir + "/code");
    writeFile(dir + "/code/index.py", std::string(kPythonWaitAtGate) + kModerationHandler);
  }
  ~Queues() {
    for (const auto& q : {in, approved, rejected, dead}) {
      try {
        deleteQueue(url, q);
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(dir);
  }

  // Writes the function config and returns its path. The URL (with its
  // credentials) reaches the runtime through the environment, as from a Secret.
  // With a `gate`, the handler waits there once it has handled `gateAfter` posts.
  // `heartbeatSeconds` > 0: the trigger's AMQP heartbeat interval (else the runtime's default).
  std::string config(bool triggerDeadLetterQueue, int maxAttempts = 2, int prefetch = 20,
                     const RequestGate* gate = nullptr, int gateAfter = 0, int heartbeatSeconds = 0) const {
    json rabbit = {{"urlEnv", "RABBITMQ_AMQP_URL"}};
    json trigger = rabbit;
    if (heartbeatSeconds > 0) trigger["heartbeatSeconds"] = heartbeatSeconds;
    trigger["queue"] = in;
    trigger["prefetch"] = prefetch;
    trigger["maxAttempts"] = maxAttempts;
    if (triggerDeadLetterQueue) trigger["deadLetterQueue"] = dead;
    json approvedOut = rabbit;
    approvedOut["routingKey"] = approved;
    json rejectedOut = rabbit;
    rejectedOut["routingKey"] = rejected;
    json config = {{"name", "moderation"},
                   {"runtime", "python3.11"},
                   {"codeDir", dir + "/code"},
                   {"retry", {{"maxAttempts", 5}, {"backoff", {{"initialDelay", "10ms"}, {"maxDelay", "50ms"}}}}},
                   {"outputs", json::array({{{"name", "approved"}, {"rabbitmq", approvedOut}},
                                            {{"name", "rejected"}, {"rabbitmq", rejectedOut}}})},
                   {"triggers", json::array({{{"name", "posts"}, {"rabbitmq", trigger}}})}};
    std::string path = dir + "/function-" + std::to_string(triggerDeadLetterQueue) + ".json";
    if (gate != nullptr) {
      config["environment"] = {{"SLUICE_TEST_GATE_URL", gate->url()},
                               {"SLUICE_TEST_GATE_AFTER", std::to_string(gateAfter)}};
      // Above the handler's bounded wait at the gate, which must not be interrupted and retried.
      config["timeoutSeconds"] = 600;
      path = dir + "/function-gate-" + std::to_string(gate->port()) + ".json";
    }
    writeFile(path, config.dump(2));
    return path;
  }
};

// Post i: id "p-<i>"; every 7th has a banned word; every `explodeEvery`th always fails.
std::vector<AmqpMessage> posts(int from, int to, int explodeEvery) {
  std::vector<AmqpMessage> messages;
  for (int i = from; i < to; ++i) {
    json post = {{"user", "u" + std::to_string(i % 13)},
                 {"text", i % 7 == 0 ? "buy cheap SPAM now " + std::to_string(i) : "hello " + std::to_string(i)}};
    if (explodeEvery > 0 && i % explodeEvery == 0) post["explode"] = true;
    messages.push_back({"p-" + std::to_string(i), post.dump(), {{"origin", "test"}}, false});
  }
  return messages;
}

bool isBanned(int i) { return i % 7 == 0; }

struct Split {
  size_t approved = 0;
  size_t rejected = 0;
  size_t dead = 0;
};
Split expectedSplit(int from, int to, int explodeEvery) {
  Split split;
  for (int i = from; i < to; ++i) {
    if (explodeEvery > 0 && i % explodeEvery == 0) {
      ++split.dead;
    } else {
      (isBanned(i) ? split.rejected : split.approved) += 1;
    }
  }
  return split;
}

struct Verdicts {
  std::vector<AmqpMessage> approvedMessages;
  std::vector<AmqpMessage> rejectedMessages;
  std::map<std::string, int> approved;  // id -> copies
  std::map<std::string, int> rejected;
  size_t total() const { return approvedMessages.size() + rejectedMessages.size(); }
};

std::map<std::string, int> countIds(const std::vector<AmqpMessage>& messages) {
  std::map<std::string, int> ids;
  for (const auto& m : messages) ++ids[json::parse(m.body)["id"].get<std::string>()];
  return ids;
}

// Reads both output queues at once (waiting for one to settle first would let
// the other pile up) until the expected counts arrived and `settle` passed.
Verdicts readVerdicts(const Queues& q, const Split& split, std::chrono::milliseconds settle) {
  Verdicts v;
  std::thread reader([&] { v.rejectedMessages = consumeQueue(q.url, q.rejected, split.rejected, settle, 300s); });
  v.approvedMessages = consumeQueue(q.url, q.approved, split.approved, settle, 300s);
  reader.join();
  v.approved = countIds(v.approvedMessages);
  v.rejected = countIds(v.rejectedMessages);
  return v;
}

// Every id of [0, posts) that should reach an output is in the right one at
// least once; returns how many are missing.
int missingIds(const Verdicts& v, int posts, int explodeEvery) {
  int missing = 0;
  for (int i = 0; i < posts; ++i) {
    if (explodeEvery > 0 && i % explodeEvery == 0) continue;
    std::string id = "p-" + std::to_string(i);
    const auto& right = isBanned(i) ? v.rejected : v.approved;
    const auto& wrong = isBanned(i) ? v.approved : v.rejected;
    if (!right.contains(id)) ++missing;
    EXPECT_FALSE(wrong.contains(id)) << id << " reached the wrong output";
  }
  return missing;
}

TEST(RuntimeBinaryRabbitMqTest, ModerationMovesEveryPostByIdAndDeadLettersAlwaysFailingOnes) {
  constexpr int kPosts = 2000;
  constexpr int kExplodeEvery = 100;  // 20 always-failing posts (p-0, p-100, ...)
  Queues q;
  publishAll(q.url, q.in, posts(0, kPosts, kExplodeEvery));

  RuntimeProcess runtime;
  auto started = std::chrono::steady_clock::now();
  runtime.start(freeLoopbackPort(), {"--config", q.config(/*triggerDeadLetterQueue=*/true)}, q.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  Split split = expectedSplit(0, kPosts, kExplodeEvery);
  Verdicts v = readVerdicts(q, split, 3s);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto dead = consumeQueue(q.url, q.dead, split.dead, 2s, 120s);

  EXPECT_EQ(missingIds(v, kPosts, kExplodeEvery), 0);
  EXPECT_EQ(v.approvedMessages.size(), split.approved) << "duplicates or losses in the approved queue";
  EXPECT_EQ(v.rejectedMessages.size(), split.rejected) << "duplicates or losses in the rejected queue";
  for (const auto& m : v.rejectedMessages) EXPECT_EQ(json::parse(m.body)["reason"], "banned word");

  std::set<std::string> deadIds;
  for (const auto& m : dead) {
    json post = json::parse(m.body);
    EXPECT_TRUE(post.value("explode", false)) << m.body << ": the dead letter carries the original payload";
    std::string id = m.headers.count("x-sluice-event-id") ? m.headers.at("x-sluice-event-id") : "<none>";
    deadIds.insert(id);
    EXPECT_EQ(m.headers.count("x-sluice-error") ? m.headers.at("x-sluice-error") : "<none>",
              "Internal: ValueError: cannot moderate " + id);
    EXPECT_EQ(m.headers.count("x-sluice-attempts") ? m.headers.at("x-sluice-attempts") : "<none>", "2")
        << "the trigger's maxAttempts overrides retry.maxAttempts";
    EXPECT_EQ(m.headers.count("x-sluice-trigger") ? m.headers.at("x-sluice-trigger") : "<none>", "posts");
    EXPECT_EQ(m.headers.count("origin") ? m.headers.at("origin") : "<none>", "test") << "original headers are kept";
  }
  std::set<std::string> expectedDead;
  for (int i = 0; i < kPosts; i += kExplodeEvery) expectedDead.insert("p-" + std::to_string(i));
  EXPECT_EQ(dead.size(), expectedDead.size());
  EXPECT_EQ(deadIds, expectedDead);

  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  ASSERT_EQ(metrics.code, 200);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"posts\""),
            kPosts - kPosts / kExplodeEvery);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_dead_lettered_total", "trigger=\"posts\""),
            kPosts / kExplodeEvery);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(readyCount(q.url, q.in), 0u) << "every input message was acknowledged";
  std::cout << "[figure] sluice-runtime, RabbitMQ->Python->RabbitMQ with publisher confirms: " << kPosts << " posts in "
            << seconds << " s from process start (" << kPosts / seconds << " msg/s incl. start-up)\n";
}

TEST(RuntimeBinaryRabbitMqTest, WithoutDeadLetterQueueFailingMessagesAreRejectedIntoTheQueuesOwnDlx) {
  constexpr int kPosts = 300;
  constexpr int kExplodeEvery = 30;  // 10 always failing
  Queues q(/*queueDlx=*/true);
  publishAll(q.url, q.in, posts(0, kPosts, kExplodeEvery));
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", q.config(/*triggerDeadLetterQueue=*/false)}, q.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  Split split = expectedSplit(0, kPosts, kExplodeEvery);
  Verdicts v = readVerdicts(q, split, 2s);
  auto dead = consumeQueue(q.url, q.dead, split.dead, 2s, 120s);
  EXPECT_EQ(missingIds(v, kPosts, kExplodeEvery), 0);
  EXPECT_EQ(v.total(), split.approved + split.rejected);

  std::set<std::string> deadIds;
  for (const auto& m : dead) {
    deadIds.insert(m.messageId);
    EXPECT_TRUE(json::parse(m.body).value("explode", false));
    EXPECT_EQ(m.headers.count("x-sluice-error"), 0u) << "a broker dead letter is the original message";
  }
  std::set<std::string> expectedDead;
  for (int i = 0; i < kPosts; i += kExplodeEvery) expectedDead.insert("p-" + std::to_string(i));
  EXPECT_EQ(dead.size(), expectedDead.size());
  EXPECT_EQ(deadIds, expectedDead);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(readyCount(q.url, q.in), 0u);
}

// Two replicas share the queue; `restarts` times one of them is stopped with
// `signal` and replaced. Each stop lands mid-stream by construction: a replica
// to be stopped handles kGateAfter posts, then waits at its own gate with a post
// in its handler and the rest of its prefetch delivered and not acknowledged;
// the signal goes once the gate holds the post, and the gate opens after it (a
// draining replica finishes the post). A replacement starts only once the other
// replica waits at its gate, so each replica reaches its gate while the queue
// still holds posts for it. The two replicas left at the end have no gate.
// Returns the verdicts once everything arrived.
Verdicts runWithRestarts(const Queues& q, int posts, int restarts, int signal, std::vector<int>& exitCodes) {
  constexpr int kGateAfter = 100;
  std::vector<std::unique_ptr<RequestGate>> gates;  // gates[i]: replica i's, for each replica to be stopped
  std::vector<std::unique_ptr<RuntimeProcess>> replicas;
  int spawned = 0;
  auto spawn = [&] {
    const RequestGate* gate = nullptr;
    if (spawned < restarts) gate = gates.emplace_back(std::make_unique<RequestGate>()).get();
    const std::string config =
        q.config(/*triggerDeadLetterQueue=*/true, /*maxAttempts=*/2, /*prefetch=*/20, gate, kGateAfter);
    auto replica = std::make_unique<RuntimeProcess>();
    replica->start(freeLoopbackPort(), {"--config", config}, q.dir + "/replica-" + std::to_string(spawned++) + ".log");
    EXPECT_TRUE(replica->waitReady(60s)) << replica->log();
    return replica;
  };
  auto reachesGate = [&](int replica, const RuntimeProcess& process) {
    EXPECT_TRUE(gates[replica]->waitForRequests(1, 120s)) << "replica " << replica << " never reached its gate\n"
                                                          << process.log();
  };
  replicas.push_back(spawn());
  replicas.push_back(spawn());
  for (int r = 0; r < restarts; ++r) {
    // Replica r is the one stopped now: 0 and 1 first, then each one's replacement in turn.
    auto& victim = replicas[r % 2];
    auto& other = replicas[(r + 1) % 2];
    reachesGate(r, *victim);
    std::cout << "[figure] restart " << r + 1 << ": " << readyCount(q.url, q.in) << " posts still queued\n";
    victim->signal(signal);
    // A draining replica finishes the held post; a killed one must not get the chance.
    if (signal != SIGKILL) gates[r]->open();
    int code = victim->waitFor(120s);
    gates[r]->open();
    exitCodes.push_back(code);
    if (signal == SIGTERM && code != 0) std::cout << victim->log();
    if (r + 1 < restarts) reachesGate(r + 1, *other);
    victim = spawn();
  }
  Verdicts v = readVerdicts(q, expectedSplit(0, posts, 0), 5s);
  for (auto& replica : replicas) {
    replica->signal(SIGTERM);
    exitCodes.push_back(replica->waitFor(120s));
  }
  return v;
}

TEST(RuntimeBinaryRabbitMqTest, GracefulSigtermDrainsMidStreamCauseNoDuplicates) {
  constexpr int kPosts = 4000;
  Queues q;
  publishAll(q.url, q.in, posts(0, kPosts, 0));
  std::vector<int> exitCodes;
  Verdicts v = runWithRestarts(q, kPosts, 3, SIGTERM, exitCodes);
  for (size_t i = 0; i < exitCodes.size(); ++i) EXPECT_EQ(exitCodes[i], 0) << "replica " << i << " drains and exits 0";
  size_t unique = v.approved.size() + v.rejected.size();
  EXPECT_EQ(missingIds(v, kPosts, 0), 0);
  EXPECT_EQ(unique, static_cast<size_t>(kPosts));
  EXPECT_EQ(v.total(), static_cast<size_t>(kPosts)) << (v.total() - unique) << " duplicates after graceful drains";
  EXPECT_EQ(readyCount(q.url, q.in), 0u);
  std::cout << "[figure] RabbitMQ, SIGTERM drain x3 of 2 replicas: " << kPosts << " ids, " << v.total() << " records, "
            << (v.total() - unique) << " duplicates\n";
}

TEST(RuntimeBinaryRabbitMqTest, ConnectionsClosedByTheBrokerMidStreamAreReopenedAndLoseNothing) {
  constexpr int kPosts = 3000;
  Queues q;
  publishAll(q.url, q.in, posts(0, kPosts, 0));
  // The connections close mid-stream by construction: after 100 posts the
  // handler waits at the gate with a post in hand and its prefetch delivered,
  // none acknowledged; the gate opens once the connections are gone.
  RequestGate gate;
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(),
                {"--config", q.config(/*triggerDeadLetterQueue=*/true, /*maxAttempts=*/2, /*prefetch=*/20, &gate, 100)},
                q.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  ASSERT_TRUE(gate.waitForRequests(1, 120s)) << "the replica never reached its gate\n" << runtime.log();
  uint32_t queued = readyCount(q.url, q.in);
  // The trigger's two (its queue's and its probation queue's), both outputs'
  // and the dead-letter queue's connections.
  int closed = closeConnectionsOf(runtime.pid(), q.url, requiredEnv("RABBITMQ_HTTP_URL"));
  gate.open();
  EXPECT_EQ(closed, 5) << "the replica holds five AMQP connections";
  Verdicts v = readVerdicts(q, expectedSplit(0, kPosts, 0), 5s);
  size_t unique = v.approved.size() + v.rejected.size();
  EXPECT_EQ(missingIds(v, kPosts, 0), 0) << "ids lost across the reconnect";
  EXPECT_EQ(unique, static_cast<size_t>(kPosts));
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(readyCount(q.url, q.in), 0u);
  std::string log = runtime.log();
  EXPECT_NE(log.find("reconnecting"), std::string::npos) << log;
  std::cout << "[figure] RabbitMQ, " << closed << " connections closed by the broker with " << queued
            << " posts queued: " << kPosts << " ids, " << v.total() << " records, " << (v.total() - unique)
            << " duplicates\n";
}

// Five posts to one replica with prefetch 1 whose handler waits at the gate
// with the first post in hand: the source has its whole prefetch in flight,
// so it does not read from its connection until the gate opens.
struct HeldReplica {
  static constexpr int kPosts = 5;
  Queues q;
  RequestGate gate;
  RuntimeProcess runtime;

  // `heartbeatSeconds` > 0: the trigger's AMQP heartbeat interval.
  explicit HeldReplica(int heartbeatSeconds = 0) {
    publishAll(q.url, q.in, posts(0, kPosts, 0));
    runtime.start(freeLoopbackPort(),
                  {"--config", q.config(/*triggerDeadLetterQueue=*/true, /*maxAttempts=*/2, /*prefetch=*/1, &gate,
                                        /*gateAfter=*/0, heartbeatSeconds)},
                  q.dir + "/run.log");
  }
  // True once the first post waits at the gate.
  bool holding() { return runtime.waitReady(60s) && gate.waitForRequests(1, 120s); }
  // Opens the gate and reads what arrives; then the replica must drain, exit 0 and leave nothing queued.
  Verdicts releaseAndDrain() {
    gate.open();
    Verdicts v = readVerdicts(q, expectedSplit(0, kPosts, 0), 3s);
    EXPECT_EQ(missingIds(v, kPosts, 0), 0) << runtime.log();
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
    EXPECT_EQ(readyCount(q.url, q.in), 0u);
    return v;
  }
};

// rabbitmq-c sends heartbeats only while it reads, and the broker closes a
// connection silent for two intervals, requeueing the delivery in hand (a
// duplicate once the handler finishes). Here the handler holds its post for
// five heartbeat intervals (2 s each): the connection must stay up and every
// post arrive once.
TEST(RuntimeBinaryRabbitMqTest, AConsumerHoldingBackKeepsItsConnectionThroughALongHandler) {
  constexpr int kHeartbeatSeconds = 2;
  HeldReplica held(kHeartbeatSeconds);
  ASSERT_TRUE(held.holding()) << "the replica never reached its gate\n" << held.runtime.log();
  std::this_thread::sleep_for(std::chrono::seconds(5 * kHeartbeatSeconds));  // the post in hand, nothing read
  Verdicts v = held.releaseAndDrain();
  size_t unique = v.approved.size() + v.rejected.size();
  EXPECT_EQ(v.total(), static_cast<size_t>(HeldReplica::kPosts)) << (v.total() - unique) << " duplicates";
  const std::string log = held.runtime.log();
  EXPECT_EQ(log.find("reconnecting"), std::string::npos) << "the connection was lost while holding back:\n" << log;
}

// The replica's connections drop without a close frame (a network cut) while
// it holds back, so only the ack finds out: the failed ack must lead to a new
// connection, not to a read on the closed one's freed state (a crash), and
// every post must still arrive.
TEST(RuntimeBinaryRabbitMqTest, AFailedAckOnADroppedConnectionReconnectsAndLosesNothing) {
  HeldReplica held;
  ASSERT_TRUE(held.holding()) << "the replica never reached its gate\n" << held.runtime.log();
  EXPECT_EQ(dropConnectionsOf(held.runtime.pid(), held.q.url), 5)
      << "the replica holds five AMQP connections (the trigger's two, the outputs', the dead letter's)";
  held.releaseAndDrain();
  EXPECT_NE(held.runtime.log().find("reconnecting"), std::string::npos) << held.runtime.log();
}

// A warm replica answers /specialize once the handler is loaded, without
// waiting for its trigger's broker: here the trigger's queue does not exist
// yet, so the broker refuses the consumer. The replica says so on /readyz and
// is not ready, runs an /invoke meanwhile, retries, and once the queue exists
// becomes ready and moderates every post.
TEST(RuntimeBinaryRabbitMqTest, WarmReplicaAnswersSpecializeBeforeItsConsumerRunsAndIsReadyOnlyOnceItDoes) {
  constexpr int kPosts = 50;
  Queues q;
  deleteQueue(q.url, q.in);
  writeFile(q.dir + "/token", "warm-token\n");
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--warm", "--specialize-token-file", q.dir + "/token"}, q.dir + "/warm.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();

  // Plus an http trigger, which /invoke needs (a push names one of the function's own triggers).
  nlohmann::json config = nlohmann::json::parse(readFile(q.config(/*triggerDeadLetterQueue=*/false)));
  config["triggers"].push_back({{"name", "web"}, {"http", nlohmann::json::object()}});
  HttpReply specialized = httpPost(runtime.port(), "/specialize", config.dump(), "Bearer warm-token");
  ASSERT_EQ(specialized.code, 200) << specialized.body << runtime.log();
  // Not ready while the consumer cannot start, and why: the broker's refusal (an attempt may still be under way).
  HttpReply ready = httpGet(runtime.port(), "/readyz");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ready.body.find("starting trigger sources: ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(ready.code, 503) << ready.body;
    EXPECT_EQ(ready.body, "starting trigger sources\n");
    std::this_thread::sleep_for(10ms);
    ready = httpGet(runtime.port(), "/readyz");
  }
  EXPECT_EQ(ready.code, 503) << ready.body;
  EXPECT_NE(ready.body.find("starting trigger \"posts\""), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find(q.in), std::string::npos) << ready.body;
  // The handler runs events meanwhile: "handler ready" is not waiting for the broker.
  HttpReply invoked = invokeReplica(runtime.dataPort(), R"({"user": "u1", "text": "hello"})");
  EXPECT_EQ(invoked.code, 200) << invoked.body;
  EXPECT_NE(invoked.body.find("\"user\": \"u1\""), std::string::npos) << invoked.body;

  declareQueue(q.url, q.in);
  publishAll(q.url, q.in, posts(0, kPosts, 0));
  ASSERT_TRUE(runtime.waitReady(60s)) << "ready once the consumer runs\n" << runtime.log();
  Verdicts v = readVerdicts(q, expectedSplit(0, kPosts, 0), 2s);
  EXPECT_EQ(missingIds(v, kPosts, 0), 0);
  EXPECT_EQ(v.total(), static_cast<size_t>(kPosts)) << "duplicates";
  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_specialization_duration_seconds_count", ""), 1)
      << "specialization ends when the sources run";
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  EXPECT_EQ(readyCount(q.url, q.in), 0u);
}

}  // namespace
}  // namespace sluice::testing
