// The sluice-runtime BINARY as a process against the real Kafka
// (KAFKA_BOOTSTRAP): a Python main_handler(event, context) transforms every
// record (N in -> N out, matched by id), /readyz and /metrics answer, SIGTERM
// drains and exits 0 with offsets committed (a restart with the same group
// re-emits nothing), and bad configurations are refused with the field named.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
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

constexpr const char* kHandler = R"PY(
import json

def main_handler(event, context):
    body = json.loads(event["data"])
    out = {"id": body["id"], "text": body["text"].upper(), "event": event["id"], "trigger": context.trigger}
    return {"value": json.dumps(out), "key": event["key"]}
)PY";

struct BinaryFixture {
  std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  std::string in = uniqueName("rtbin-in");
  std::string out = uniqueName("rtbin-out");
  std::string group = uniqueName("rtbin-group");
  std::string dir = makeTempDir("rtbin");
  std::string configPath;

  BinaryFixture() {
    createTopic(bootstrap, in, 3);
    createTopic(bootstrap, out, 3);
    configPath = writeKafkaPythonFunction(dir, "upper", kHandler, bootstrap, in, out, group);
  }
  ~BinaryFixture() { std::filesystem::remove_all(dir); }
};

std::vector<TestMessage> messages(int from, int to) {
  std::vector<TestMessage> result;
  for (int i = from; i < to; ++i) {
    json body = {{"id", "id-" + std::to_string(i)}, {"text", "hello " + std::to_string(i)}};
    result.push_back({"k" + std::to_string(i % 17), body.dump(), {}});
  }
  return result;
}

// Checks every output and returns id -> count.
std::map<std::string, int> outputIds(const std::vector<ConsumedRecord>& records, const std::string& inTopic) {
  std::map<std::string, int> ids;
  for (const auto& r : records) {
    json value = json::parse(r.value);
    std::string id = value["id"];
    int n = std::stoi(id.substr(3));
    EXPECT_EQ(value["text"], "HELLO " + std::to_string(n));
    EXPECT_EQ(value["trigger"], "orders");
    EXPECT_TRUE(value["event"].get<std::string>().starts_with(inTopic + "/")) << value["event"];
    EXPECT_EQ(r.key, "k" + std::to_string(n % 17)) << "the handler kept the input key";
    ++ids[id];
  }
  return ids;
}

TEST(RuntimeBinaryKafkaTest, PythonHandlerTransformsEveryRecordAndSigtermDrainsAndCommits) {
  constexpr int kFirst = 5000;
  constexpr int kSecond = 1000;
  BinaryFixture f;
  produceAll(f.bootstrap, f.in, messages(0, kFirst));

  RuntimeProcess runtime;
  auto started = std::chrono::steady_clock::now();
  runtime.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/run1.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  EXPECT_EQ(httpGet(runtime.port(), "/healthz").code, 200);
  auto out = consumeAll(f.bootstrap, f.out, kFirst, 3s, 240s);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto ids = outputIds(out, f.in);
  EXPECT_EQ(out.size(), static_cast<size_t>(kFirst)) << "duplicates or losses";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kFirst));
  for (int i = 0; i < kFirst; ++i) EXPECT_EQ(ids["id-" + std::to_string(i)], 1) << "id-" << i;

  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  ASSERT_EQ(metrics.code, 200);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"orders\""), kFirst);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_dead_lettered_total", "trigger=\"orders\""), 0);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_specialization_duration_seconds_count", ""), 1);

  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  std::string log = runtime.log();
  EXPECT_NE(log.find("drained: every in-flight event finished and was acknowledged"), std::string::npos) << log;

  // A graceful drain committed everything: a new replica of the same group
  // emits only the new messages.
  produceAll(f.bootstrap, f.in, messages(kFirst, kFirst + kSecond));
  RuntimeProcess second;
  second.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/run2.log");
  ASSERT_TRUE(second.waitReady(60s)) << second.log();
  auto all = consumeAll(f.bootstrap, f.out, kFirst + kSecond, 5s, 240s);
  second.signal(SIGTERM);
  EXPECT_EQ(second.waitFor(120s), 0) << second.log();
  auto allIds = outputIds(all, f.in);
  EXPECT_EQ(allIds.size(), static_cast<size_t>(kFirst + kSecond));
  EXPECT_EQ(all.size(), static_cast<size_t>(kFirst + kSecond))
      << (all.size() - allIds.size()) << " duplicates after a graceful drain";
  std::cout << "[figure] sluice-runtime binary, Python handler, Kafka->Kafka: " << kFirst << " events in " << seconds
            << " s from process start (" << kFirst / seconds << " events/s incl. start-up and read-back)\n";
}

// The issue's scale test with a Python handler: 100,000 records in, every one
// out matched by id, except a known always-failing subset (every 1,000th),
// which is retried and then lands in the dead-letter topic, exactly those ids,
// with the handler's exception in the error header.
TEST(RuntimeBinaryKafkaTest, PythonHandler100kRecordsMatchedByIdAndTheFailingSubsetIsDeadLettered) {
  constexpr int kMessages = 100000;
  constexpr int kFailEvery = 1000;
  BinaryFixture f;
  writeFile(f.dir + "/code/index.py", R"PY(
import json

def main_handler(event, context):
    body = json.loads(event["data"])
    n = int(body["id"][3:])
    if n % 1000 == 0:
        raise ValueError("refusing " + body["id"])
    out = {"id": body["id"], "text": body["text"].upper(), "event": event["id"], "trigger": context.trigger}
    return {"value": json.dumps(out), "key": event["key"]}
)PY");
  const std::string dead = uniqueName("rtbin-dlq");
  createTopic(f.bootstrap, dead, 1);
  json config = json::parse(readFile(f.configPath));
  config["retry"] = {{"maxAttempts", 2}, {"backoff", {{"initialDelay", "10ms"}, {"maxDelay", "20ms"}}}};
  config["deadLetter"] = {{"kafka", {{"bootstrapServers", f.bootstrap}, {"topic", dead}}}};
  writeFile(f.configPath, config.dump());
  produceAll(f.bootstrap, f.in, messages(0, kMessages));

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  const int failing = kMessages / kFailEvery;
  auto out = consumeAll(f.bootstrap, f.out, kMessages - failing, 3s, 400s);
  auto dlq = consumeAll(f.bootstrap, dead, failing, 2s, 60s);
  auto ids = outputIds(out, f.in);
  EXPECT_EQ(out.size(), static_cast<size_t>(kMessages - failing)) << "duplicates or losses";
  int wrong = 0;
  for (int i = 0; i < kMessages; ++i) wrong += ids["id-" + std::to_string(i)] != (i % kFailEvery == 0 ? 0 : 1);
  EXPECT_EQ(wrong, 0) << "ids missing, duplicated, or failing ones in the output";
  std::map<std::string, std::string> deadIds;
  for (const auto& r : dlq) {
    std::string id = json::parse(r.value)["id"];
    for (const auto& [name, value] : r.headers) {
      if (name == "x-sluice-error") deadIds[id] = value;
    }
  }
  EXPECT_EQ(dlq.size(), static_cast<size_t>(failing));
  for (int i = 0; i < kMessages; i += kFailEvery) {
    std::string id = "id-" + std::to_string(i);
    EXPECT_EQ(deadIds[id], "Internal: ValueError: refusing " + id) << id;
  }
  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_dead_lettered_total", "trigger=\"orders\""), failing);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
}

// The delivery path's metrics on a backlog: while a gate holds the handler the
// per-partition consumer lag is reported above zero; once the backlog is
// consumed it returns to 0 on every partition, and the batch-size histogram
// shows the records were handed over several at a time.
TEST(RuntimeBinaryKafkaTest, BacklogIsTakenInBatchesAndConsumerLagReturnsToZero) {
  constexpr int kMessages = 20000;
  BinaryFixture f;
  const std::string gate = f.dir + "/gate";
  writeFile(f.dir + "/code/index.py", R"PY(
import json
import os
import time

GATE = os.environ["GATE"]

def main_handler(event, context):
    while not os.path.exists(GATE):
        time.sleep(0.01)
    body = json.loads(event["data"])
    out = {"id": body["id"], "text": body["text"].upper(), "event": event["id"], "trigger": context.trigger}
    return {"value": json.dumps(out), "key": event["key"]}
)PY");
  json config = json::parse(readFile(f.configPath));
  config["environment"] = {{"GATE", gate}};
  writeFile(f.configPath, config.dump());
  produceAll(f.bootstrap, f.in, messages(0, kMessages));

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  const std::string onInput = "topic=\"" + f.in + "\"";
  auto lagSamples = [&](const std::string& body) {
    int samples = 0;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
      samples += line.starts_with("sluice_runtime_consumer_lag{") && line.find(onInput) != std::string::npos;
    }
    return samples;
  };
  double heldLag = 0;
  for (auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;) {
    HttpReply metrics = httpGet(runtime.port(), "/metrics");
    if (lagSamples(metrics.body) == 3) heldLag = metricSum(metrics.body, "sluice_runtime_consumer_lag", onInput);
    if (heldLag > 0) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(heldLag, kMessages - 2000) << "the lag of the held backlog, summed over the 3 partitions";
  writeFile(gate, "open");

  auto out = consumeAll(f.bootstrap, f.out, kMessages, 2s, 240s);
  auto ids = outputIds(out, f.in);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  double lag = -1;
  std::string body;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
    body = httpGet(runtime.port(), "/metrics").body;
    lag = metricSum(body, "sluice_runtime_consumer_lag", onInput);
    if (lagSamples(body) == 3 && lag == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(lagSamples(body), 3) << body;
  EXPECT_EQ(lag, 0) << body;
  double batches = metricSum(body, "sluice_runtime_batch_size_count", "trigger=\"orders\"");
  double events = metricSum(body, "sluice_runtime_batch_size_sum", "trigger=\"orders\"");
  EXPECT_EQ(events, kMessages) << body;
  ASSERT_GT(batches, 0) << body;
  EXPECT_GT(events / batches, 1.0) << "batches of one under a backlog\n" << body;
  EXPECT_LT(metricSum(body, "sluice_runtime_batch_size_bucket", "le=\"1\""), batches) << body;
  std::cout << "[figure] backlog of " << kMessages << ": " << batches << " batches, " << events / batches
            << " events per batch on average\n";
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
}

// A trigger's batchSize > 1: main_handler(events, context) receives a list of
// at most batchSize canonical events of one partition, in offset order, and
// returns the outputs of all of them.
TEST(RuntimeBinaryKafkaTest, BatchSizeHandsTheHandlerListsOfEventsInPartitionOrder) {
  constexpr int kMessages = 3000;
  constexpr int kBatchSize = 50;
  BinaryFixture f;
  writeFile(f.dir + "/code/index.py", R"PY(
import json

def main_handler(events, context):
    assert isinstance(events, list), type(events)
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets), offsets
    assert len({e["partition"] for e in events}) == 1
    out = []
    for e in events:
        body = json.loads(e["data"])
        value = {"id": body["id"], "text": body["text"].upper(), "event": e["id"], "trigger": context.trigger,
                 "batch": len(events)}
        out.append({"value": json.dumps(value), "key": e["key"]})
    return out
)PY");
  json config = json::parse(readFile(f.configPath));
  config["triggers"][0]["kafka"]["batchSize"] = kBatchSize;
  config["triggers"][0]["kafka"]["maxInFlight"] = 4 * kBatchSize;
  writeFile(f.configPath, config.dump());
  produceAll(f.bootstrap, f.in, messages(0, kMessages));

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/run.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  auto out = consumeAll(f.bootstrap, f.out, kMessages, 2s, 240s);
  auto ids = outputIds(out, f.in);
  EXPECT_EQ(out.size(), static_cast<size_t>(kMessages)) << "duplicates or losses";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  int largest = 0;
  for (const auto& r : out) largest = std::max(largest, json::parse(r.value)["batch"].get<int>());
  EXPECT_LE(largest, kBatchSize);
  EXPECT_GT(largest, 1) << "the handler only ever saw lists of one";
  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"orders\""), kMessages);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_failed_total", "trigger=\"orders\""), 0);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
}

TEST(RuntimeBinaryKafkaTest, WarmReplicaRefusesBadTokensThenSpecializesAndProcesses) {
  constexpr int kMessages = 500;
  BinaryFixture f;
  writeFile(f.dir + "/token", "warm-s3cret\n");
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--warm", "--specialize-token-file", f.dir + "/token"}, f.dir + "/warm.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << "a warm replica is ready before it has a function\n" << runtime.log();
  std::string config = readFile(f.configPath);

  HttpReply none = httpPost(runtime.port(), "/specialize", config);
  EXPECT_EQ(none.code, 401);
  EXPECT_EQ(none.body, "missing bearer token\n");
  HttpReply wrong = httpPost(runtime.port(), "/specialize", config, "Bearer warm-s3creT");
  EXPECT_EQ(wrong.code, 401);
  EXPECT_EQ(wrong.body, "wrong bearer token\n");
  HttpReply bad =
      httpPost(runtime.port(), "/specialize", "{\"name\": \"x\", \"runtime\": \"cobol\"}", "Bearer warm-s3cret");
  EXPECT_EQ(bad.code, 400) << bad.body;
  EXPECT_NE(bad.body.find("runtime"), std::string::npos) << bad.body;

  produceAll(f.bootstrap, f.in, messages(0, kMessages));
  HttpReply ok = httpPost(runtime.port(), "/specialize", config, "Bearer warm-s3cret");
  ASSERT_EQ(ok.code, 200) << ok.body << runtime.log();
  auto out = consumeAll(f.bootstrap, f.out, kMessages, 2s, 120s);
  auto ids = outputIds(out, f.in);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(out.size(), static_cast<size_t>(kMessages));
  HttpReply again = httpPost(runtime.port(), "/specialize", config, "Bearer warm-s3cret");
  EXPECT_EQ(again.code, 409) << again.body;

  HttpReply metrics = httpGet(runtime.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_specialization_duration_seconds_count", ""), 1);
  double seconds = metricSum(metrics.body, "sluice_runtime_specialization_duration_seconds_sum", "");
  EXPECT_GT(seconds, 0);
  EXPECT_EQ(httpPost(runtime.port(), "/drain", "").code, 401) << "a drain needs the control token";
  EXPECT_EQ(httpPost(runtime.port(), "/drain", "", "Bearer warm-s3cret").code, 202);
  EXPECT_EQ(runtime.waitFor(120s), 0) << runtime.log();
  std::cout << "[figure] warm replica /specialize (Python handler + Kafka source and sink): " << seconds * 1000
            << " ms\n";
}

TEST(RuntimeBinaryKafkaTest, StuckInterpreterMakesTheReplicaUnhealthyAndExit3WithoutLosingTheEvent) {
  BinaryFixture f;
  // Swallows the TimeoutError the runtime raises at the deadline: the call never ends.
  writeFile(f.dir + "/code/index.py", R"PY(
import json
import time

def main_handler(event, context):
    body = json.loads(event["data"])
    if body["id"] == "id-3":
        while True:
            try:
                time.sleep(5)
            except TimeoutError:
                pass
    return {"value": json.dumps({"id": body["id"], "text": body["text"].upper(), "event": event["id"],
                                 "trigger": context.trigger}), "key": event["key"]}
)PY");
  json config = json::parse(readFile(f.configPath));
  config["timeoutSeconds"] = 1;
  writeFile(f.configPath, config.dump());
  // One partition keeps id-3 behind ids 0-2 and ahead of 4-9.
  std::string in1 = uniqueName("rtbin-in1");
  createTopic(f.bootstrap, in1, 1);
  config["triggers"][0]["kafka"]["topics"] = json::array({in1});
  writeFile(f.configPath, config.dump());
  produceAll(f.bootstrap, in1, messages(0, 10));

  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/stuck.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  int code = runtime.waitFor(120s);
  EXPECT_EQ(code, 3) << runtime.log();
  std::string log = runtime.log();
  EXPECT_NE(log.find("the interpreter is stuck"), std::string::npos) << log;
  EXPECT_NE(log.find("left unacknowledged for redelivery"), std::string::npos) << log;

  // A fresh replica with a fixed handler gets id-3 (and everything after it) again.
  writeFile(f.dir + "/code/index.py", kHandler);
  RuntimeProcess fresh;
  fresh.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/fresh.log");
  ASSERT_TRUE(fresh.waitReady(60s)) << fresh.log();
  auto out = consumeAll(f.bootstrap, f.out, 10, 3s, 120s);
  fresh.signal(SIGTERM);
  EXPECT_EQ(fresh.waitFor(120s), 0) << fresh.log();
  auto ids = outputIds(out, in1);
  for (int i = 0; i < 10; ++i) EXPECT_GE(ids["id-" + std::to_string(i)], 1) << "id-" << i << " was lost";
  EXPECT_EQ(ids["id-3"], 1);
}

TEST(RuntimeBinaryKafkaTest, BadConfigFieldExitsNonZeroNamingTheField) {
  BinaryFixture f;
  json config = json::parse(readFile(f.configPath));
  config["triggers"][0]["kafka"]["initialOffset"] = "newest";
  writeFile(f.configPath, config.dump());
  std::string logPath = f.dir + "/bad.log";
  int code = runRuntimeToExit({"--config", f.configPath}, logPath, 60s);
  EXPECT_EQ(code, 2) << readFile(logPath);
  EXPECT_NE(readFile(logPath).find("triggers[0].kafka.initialOffset: must be one of latest, earliest, got \"newest\""),
            std::string::npos)
      << readFile(logPath);

  config["triggers"][0]["kafka"]["initialOffset"] = "earliest";
  config["outputs"][0]["kafka"]["topicc"] = "typo";
  writeFile(f.configPath, config.dump());
  code = runRuntimeToExit({"--config", f.configPath}, logPath, 60s);
  EXPECT_EQ(code, 2) << readFile(logPath);
  EXPECT_NE(readFile(logPath).find("outputs[0].kafka.topicc"), std::string::npos) << readFile(logPath);
}

TEST(RuntimeBinaryKafkaTest, HandlerThatCannotBeImportedExitsNonZeroNamingTheModule) {
  BinaryFixture f;
  writeFile(f.dir + "/code/index.py", "def main_handler(event, context)\n    return None\n");
  std::string logPath = f.dir + "/import.log";
  int code = runRuntimeToExit({"--config", f.configPath}, logPath, 60s);
  EXPECT_EQ(code, 1) << readFile(logPath);
  std::string log = readFile(logPath);
  EXPECT_NE(log.find("cannot import module \"index\""), std::string::npos) << log;
  EXPECT_NE(log.find("SyntaxError"), std::string::npos) << log;
}

}  // namespace
}  // namespace sluice::testing
