// MQ disaster recovery (seed scenario 5) with the sluice-runtime BINARY: a
// built-in pipeline of only `mirror` (no Python) copies a topic on the first
// Kafka cluster (KAFKA_BOOTSTRAP) to a topic on the second (KAFKA_BOOTSTRAP_B).
// Every record arrives once, in the same partition, in the same order within
// it, with its key, value and headers byte for byte (binary included). Then:
// several topics in one mirror, keeping their names or prefixed as MirrorMaker
// 2 does ("A.<topic>"), two mirrors A -> B and B -> A that never loop, and
// target topics created and grown to follow their sources.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Per partition, in offset order: (key, value, headers).
using Row = std::tuple<std::string, std::string, runtime::Headers>;
std::map<int32_t, std::vector<Row>> rowsByPartition(const std::vector<ConsumedRecord>& records) {
  std::map<int32_t, std::vector<std::pair<int64_t, Row>>> out;
  for (const auto& r : records) out[r.partition].push_back({r.offset, Row{r.key, r.value, r.headers}});
  std::map<int32_t, std::vector<Row>> rows;
  for (auto& [partition, list] : out) {
    std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [offset, row] : list) rows[partition].push_back(row);
  }
  return rows;
}

// Every partition of `expected` arrived in `actual` whole and in order, and nothing else did.
void expectSameRows(const std::map<int32_t, std::vector<Row>>& expected,
                    const std::map<int32_t, std::vector<Row>>& actual, const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what << ": partitions";
  for (const auto& [partition, rows] : expected) {
    auto got = actual.find(partition);
    ASSERT_NE(got, actual.end()) << what << " partition " << partition;
    ASSERT_EQ(got->second.size(), rows.size()) << what << " partition " << partition;
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(got->second[i], rows[i]) << what << " partition " << partition << " position " << i;
    }
  }
}

// A builtin mirror Function from `from` (topics: names, or "^regex") to the
// cluster `to`, whose output topic `outputTopic` takes whatever the rename
// leaves on the output's own topic.
json mirrorConfig(const std::string& from, const json& topics, const std::string& to, const std::string& outputTopic,
                  const json& options) {
  return {{"name", "dr-mirror"},
          {"runtime", "builtin"},
          {"pipeline", json::array({{{"mirror", options}}})},
          {"outputs", json::array({{{"name", "b"}, {"kafka", {{"bootstrapServers", to}, {"topic", outputTopic}}}}})},
          {"triggers", json::array({{{"name", "a"},
                                     {"kafka",
                                      {{"bootstrapServers", from},
                                       {"topics", topics},
                                       {"consumerGroup", uniqueName("mirror")},
                                       {"initialOffset", "earliest"}}}}})}};
}

void startMirror(RuntimeProcess& mirror, const std::string& dir, const std::string& name, const json& config) {
  writeFile(dir + "/" + name + ".json", config.dump(2));
  mirror.start(freeLoopbackPort(), {"--config", dir + "/" + name + ".json"}, dir + "/" + name + ".log");
  ASSERT_TRUE(mirror.waitReady(60s)) << mirror.log();
}

std::vector<TestMessage> numbered(const std::string& tag, int count) {
  std::vector<TestMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back({"k" + std::to_string(i % 29), tag + "-" + std::to_string(i), {{"seq", std::to_string(i)}}});
  }
  return messages;
}

TEST(RuntimeBinaryMirrorTest, MirrorsKeysHeadersAndPerPartitionOrderToTheSecondCluster) {
  constexpr int kMessages = 6000;
  constexpr int kPartitions = 3;
  const std::string clusterA = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string clusterB = requiredEnv("KAFKA_BOOTSTRAP_B");
  ASSERT_NE(clusterA, clusterB) << "the mirror test needs two distinct clusters";
  const std::string topic = uniqueName("orders");
  const std::string dir = makeTempDir("rtmirror");
  createTopic(clusterA, topic, kPartitions);
  createTopic(clusterB, topic, kPartitions);

  std::vector<TestMessage> messages;
  for (int i = 0; i < kMessages; ++i) {
    std::string value = "order-" + std::to_string(i);
    if (i % 100 == 0) value += std::string("\0\xff\xfe binary", 10);
    messages.push_back({"customer-" + std::to_string(i % 37),
                        value,
                        {{"trace-id", "t" + std::to_string(i)}, {"origin", "dc-a"}, {"origin", "repeat-kept"}}});
  }
  produceAll(clusterA, topic, messages);

  RuntimeProcess mirror;
  startMirror(mirror, dir, "function", mirrorConfig(clusterA, json::array({topic}), clusterB, topic, json::object()));

  auto source = consumeAll(clusterA, topic, kMessages, 1s, 60s);
  auto copied = consumeAll(clusterB, topic, kMessages, 3s, 120s);
  ASSERT_EQ(source.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(copied.size(), static_cast<size_t>(kMessages)) << "duplicates or losses";

  expectSameRows(rowsByPartition(source), rowsByPartition(copied), topic);
  EXPECT_EQ(rowsByPartition(source).size(), static_cast<size_t>(kPartitions));

  mirror.signal(SIGTERM);
  EXPECT_EQ(mirror.waitFor(60s), 0) << mirror.log();
  std::filesystem::remove_all(dir);
}

// One mirror reads three topics by list and keeps their names on B; another
// reads them by a regex subscription and writes "A.<topic>" (MM2's naming).
TEST(RuntimeBinaryMirrorTest, MirrorsSeveralTopicsKeepingOrPrefixingTheirNames) {
  const std::string clusterA = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string clusterB = requiredEnv("KAFKA_BOOTSTRAP_B");
  const std::string base = uniqueName("multi");
  const std::map<std::string, int> topics = {{base + "-x", 3}, {base + "-y", 2}, {base + "-z", 1}};
  const std::string dir = makeTempDir("rtmirrormulti");
  json names = json::array();
  for (const auto& [topic, partitions] : topics) {
    createTopic(clusterA, topic, partitions);
    createTopic(clusterB, topic, partitions);
    createTopic(clusterB, "A." + topic, partitions);
    produceAll(clusterA, topic, numbered(topic, 700));
    names.push_back(topic);
  }
  RuntimeProcess identity;
  RuntimeProcess prefixed;
  startMirror(identity, dir, "identity",
              mirrorConfig(clusterA, names, clusterB, base + "-x", {{"rename", "identity"}}));
  startMirror(prefixed, dir, "prefix",
              mirrorConfig(clusterA, json::array({"^" + base + "-.*"}), clusterB, base + "-x",
                           {{"rename", "prefix"}, {"prefix", "A."}}));

  for (const auto& [topic, partitions] : topics) {
    auto source = rowsByPartition(consumeAll(clusterA, topic, 700, 1s, 60s));
    EXPECT_EQ(source.size(), static_cast<size_t>(partitions)) << topic;
    expectSameRows(source, rowsByPartition(consumeAll(clusterB, topic, 700, 3s, 120s)), "B " + topic);
    expectSameRows(source, rowsByPartition(consumeAll(clusterB, "A." + topic, 700, 3s, 120s)), "B A." + topic);
  }
  for (RuntimeProcess* mirror : {&identity, &prefixed}) {
    mirror->signal(SIGTERM);
    EXPECT_EQ(mirror->waitFor(60s), 0) << mirror->log();
  }
  std::filesystem::remove_all(dir);
}

// The records of `records` that carry no origin header (written by a producer,
// not by a mirror), and those stamped with `origin`, the header taken off.
std::vector<ConsumedRecord> withOrigin(const std::vector<ConsumedRecord>& records, const std::string& origin) {
  std::vector<ConsumedRecord> out;
  for (ConsumedRecord r : records) {
    auto stamp = std::find_if(r.headers.begin(), r.headers.end(),
                              [](const auto& header) { return header.first == "sluice-mirror-origin"; });
    std::string found = stamp == r.headers.end() ? "" : stamp->second;
    if (found != origin) continue;
    if (stamp != r.headers.end()) r.headers.erase(stamp);
    out.push_back(std::move(r));
  }
  return out;
}

// Active/active: A -> B and B -> A on the same topic name. Each side's 1,000
// records arrive once on the other, in order per partition, stamped with their
// origin; the copies are not copied back (each mirror reads and acks all 2,000
// records of its source, writing only the 1,000 that did not come from its target).
TEST(RuntimeBinaryMirrorTest, ActiveActiveMirrorsNeverLoop) {
  constexpr int kEach = 1000;
  constexpr int kPartitions = 3;
  const std::string clusterA = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string clusterB = requiredEnv("KAFKA_BOOTSTRAP_B");
  const std::string topic = uniqueName("active");
  const std::string dir = makeTempDir("rtmirrorloop");
  createTopic(clusterA, topic, kPartitions);
  createTopic(clusterB, topic, kPartitions);
  produceAll(clusterA, topic, numbered("from-a", kEach));
  produceAll(clusterB, topic, numbered("from-b", kEach));

  json aToB = mirrorConfig(clusterA, json::array({topic}), clusterB, topic,
                           {{"rename", "identity"}, {"sourceAlias", "A"}, {"targetAlias", "B"}});
  json bToA = mirrorConfig(clusterB, json::array({topic}), clusterA, topic,
                           {{"rename", "identity"}, {"sourceAlias", "B"}, {"targetAlias", "A"}});
  RuntimeProcess forward;
  RuntimeProcess backward;
  startMirror(forward, dir, "a-to-b", aToB);
  startMirror(backward, dir, "b-to-a", bToA);
  // Settled: both mirrors committed every record of their source, copies included.
  const std::string groupA = aToB["triggers"][0]["kafka"]["consumerGroup"];
  const std::string groupB = bToA["triggers"][0]["kafka"]["consumerGroup"];
  EXPECT_TRUE(waitUntil(120s,
                        [&] {
                          return committedOffsetSum(clusterA, groupA, topic, kPartitions) == 2 * kEach &&
                                 committedOffsetSum(clusterB, groupB, topic, kPartitions) == 2 * kEach;
                        }))
      << forward.log() << backward.log();

  auto onA = consumeAll(clusterA, topic, 2 * kEach, 3s, 60s);
  auto onB = consumeAll(clusterB, topic, 2 * kEach, 3s, 60s);
  EXPECT_EQ(onA.size(), static_cast<size_t>(2 * kEach)) << "a loop or a loss on A";
  EXPECT_EQ(onB.size(), static_cast<size_t>(2 * kEach)) << "a loop or a loss on B";
  expectSameRows(rowsByPartition(withOrigin(onA, "")), rowsByPartition(withOrigin(onB, "A")), "A's records on B");
  expectSameRows(rowsByPartition(withOrigin(onB, "")), rowsByPartition(withOrigin(onA, "B")), "B's records on A");
  // Nothing more comes once settled: the offsets stay at 2,000 and so do the topics.
  EXPECT_EQ(committedOffsetSum(clusterA, groupA, topic, kPartitions), 2 * kEach);
  EXPECT_EQ(committedOffsetSum(clusterB, groupB, topic, kPartitions), 2 * kEach);
  EXPECT_EQ(consumeAll(clusterA, topic, 2 * kEach + 1, 3s, 10s).size(), static_cast<size_t>(2 * kEach));
  EXPECT_EQ(consumeAll(clusterB, topic, 2 * kEach + 1, 3s, 10s).size(), static_cast<size_t>(2 * kEach));
  for (RuntimeProcess* mirror : {&forward, &backward}) {
    mirror->signal(SIGTERM);
    EXPECT_EQ(mirror->waitFor(60s), 0) << mirror->log();
  }
  std::filesystem::remove_all(dir);
}

// Target topics follow their sources with no hand work: a topic missing on B is
// created with A's partition count and the configs set on A's topic; a topic
// created on A while the mirror runs appears on B; a partition-count increase
// on A reaches B before records of the new partitions are written.
TEST(RuntimeBinaryMirrorTest, CreatesTargetTopicsAndFollowsPartitionGrowth) {
  const std::string clusterA = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string clusterB = requiredEnv("KAFKA_BOOTSTRAP_B");
  const std::string base = uniqueName("sync");
  const std::string first = base + "-first";
  const std::string later = base + "-later";
  const std::string dir = makeTempDir("rtmirrorsync");
  const TopicConfig configs = {{"max.message.bytes", "200000"}, {"retention.ms", "3600000"}};
  createTopic(clusterA, first, 2, configs);
  produceAll(clusterA, first, numbered("first", 400));
  json config = mirrorConfig(clusterA, json::array({"^" + base + "-.*"}), clusterB, base + "-health",
                             {{"rename", "prefix"}, {"prefix", "A."}});
  // New topics and partitions on A reach the subscription within a second, not librdkafka's default 5 minutes.
  config["triggers"][0]["kafka"]["properties"] = {{"topic.metadata.refresh.interval.ms", "1000"}};
  RuntimeProcess mirror;
  startMirror(mirror, dir, "sync", config);

  // B's readers subscribe once the topic exists (a reader's metadata would not see it for minutes).
  ASSERT_TRUE(waitUntil(60s, [&] { return partitionCountOf(clusterB, "A." + first) > 0; })) << mirror.log();
  EXPECT_EQ(partitionCountOf(clusterB, "A." + first), 2);
  EXPECT_EQ(topicConfigsSetOn(clusterB, "A." + first), configs);
  expectSameRows(rowsByPartition(consumeAll(clusterA, first, 400, 1s, 60s)),
                 rowsByPartition(consumeAll(clusterB, "A." + first, 400, 3s, 120s)), "B A." + first);

  growTopic(clusterA, first, 5);
  createTopic(clusterA, later, 3);
  produceAll(clusterA, first, numbered("grown", 600));
  produceAll(clusterA, later, numbered("later", 300));
  ASSERT_TRUE(waitUntil(120s, [&] {
    return partitionCountOf(clusterB, "A." + first) == 5 && partitionCountOf(clusterB, "A." + later) == 3;
  })) << mirror.log();
  auto grown = rowsByPartition(consumeAll(clusterA, first, 1000, 1s, 60s));
  EXPECT_EQ(grown.size(), 5u) << "records went to the new partitions too";
  expectSameRows(grown, rowsByPartition(consumeAll(clusterB, "A." + first, 1000, 3s, 120s)), "B A." + first);
  expectSameRows(rowsByPartition(consumeAll(clusterA, later, 300, 1s, 60s)),
                 rowsByPartition(consumeAll(clusterB, "A." + later, 300, 3s, 120s)), "B A." + later);
  mirror.signal(SIGTERM);
  EXPECT_EQ(mirror.waitFor(60s), 0) << mirror.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
