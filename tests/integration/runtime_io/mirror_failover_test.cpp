// The Kafka failover drill of issue 17, with the sluice-runtime binary as the
// mirror: 200,000 records over 8 topics / 48 partitions on cluster A (a
// private broker, so killing it disturbs no other test), a consumer group
// reads part of them on A and commits; the mirror (rename identity, groups:
// [that group]) copies A to B (KAFKA_BOOTSTRAP_B) and translates the group's
// offsets onto B; meanwhile a topic is added on A, another grows from 6 to 8
// partitions and a topic config changes, all of which follow to B. Then A's
// broker is killed (kill -9) and the same group starts on B: nothing lost, no
// record read twice (the group was idle when it was translated, so the
// documented duplicate window is empty), every partition in order.
#include <gtest/gtest.h>
#include <signal.h>

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "private_kafka.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kTopics = 8;
constexpr int kPartitions = 6;
constexpr int kRecords = 200'000;
constexpr int kReadOnA = 90'000;
constexpr int kLater = 3'000;  // into the new topic and the grown one each

// A record as a consumer saw it: its value "<topic>/<seq>", seq rising per key.
struct Seen {
  std::string topic;
  int32_t partition;
  std::string value;
};

std::unique_ptr<RdKafka::KafkaConsumer> consumer(const std::string& bootstrap, const std::string& group,
                                                 const std::vector<std::string>& topics) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [key, value] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                                     {"group.id", group},
                                                                     {"enable.auto.commit", "false"},
                                                                     {"auto.offset.reset", "earliest"}}) {
    conf->set(key, value, error);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> out(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!out) throw std::runtime_error("consumer: " + error);
  out->subscribe(topics);
  return out;
}

// Reads until `limit` records, or until `settle` passes with none once `minimum` arrived.
std::vector<Seen> readRecords(RdKafka::KafkaConsumer& c, size_t limit, size_t minimum, std::chrono::milliseconds settle,
                              std::chrono::seconds timeout) {
  std::vector<Seen> seen;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto quietSince = std::chrono::steady_clock::now();
  while (seen.size() < limit && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c.consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (seen.size() >= minimum && std::chrono::steady_clock::now() - quietSince > settle) break;
      continue;
    }
    quietSince = std::chrono::steady_clock::now();
    seen.push_back({m->topic_name(), m->partition(), std::string(static_cast<const char*>(m->payload()), m->len())});
  }
  return seen;
}

std::vector<TestMessage> records(const std::string& topic, int from, int count) {
  std::vector<TestMessage> out;
  for (int i = from; i < from + count; ++i) {
    out.push_back({"k" + std::to_string(i % 97), topic + "/" + std::to_string(i), {}});
  }
  return out;
}

int64_t seqOf(const std::string& value) { return std::stoll(value.substr(value.rfind('/') + 1)); }

json mirrorFunction(const std::string& a, const std::string& b, const std::string& base, const std::string& group) {
  return {{"name", "dr-failover"},
          {"runtime", "builtin"},
          {"pipeline", json::array({{{"mirror",
                                      {{"rename", "identity"},
                                       {"groups", json::array({group})},
                                       {"groupSyncIntervalSeconds", 1},
                                       {"configSyncIntervalSeconds", 1}}}}})},
          {"outputs", json::array({{{"name", "b"}, {"kafka", {{"bootstrapServers", b}, {"topic", base + "-0"}}}}})},
          {"triggers", json::array({{{"name", "a"},
                                     {"kafka",
                                      {{"bootstrapServers", a},
                                       {"topics", json::array({"^" + base + "-.*"})},
                                       {"consumerGroup", uniqueName("dr-mirror")},
                                       {"initialOffset", "earliest"},
                                       // New topics and partitions on A reach the mirror within a second.
                                       {"properties", {{"topic.metadata.refresh.interval.ms", "1000"}}}}}}})}};
}

// Every partition's records in rising sequence (one key's records share a partition and rise).
void expectOrdered(const std::vector<Seen>& seen, const std::string& what) {
  std::map<std::pair<std::string, int32_t>, int64_t> last;
  for (const Seen& s : seen) {
    auto& previous = last.try_emplace({s.topic, s.partition}, -1).first->second;
    ASSERT_GT(seqOf(s.value), previous) << what << " " << s.topic << "[" << s.partition << "] " << s.value;
    previous = seqOf(s.value);
  }
}

TEST(MirrorFailoverTest, ConsumerGroupFailsOverToTheSecondClusterLosingNothingInOrder) {
  const auto started = std::chrono::steady_clock::now();
  PrivateKafka clusterA;
  ASSERT_TRUE(clusterA.start(90s)) << clusterA.log();
  const std::string a = clusterA.bootstrap();
  const std::string b = requiredEnv("KAFKA_BOOTSTRAP_B");
  const std::string base = uniqueName("drill");
  const std::string group = uniqueName("billing");
  std::vector<std::string> topics;
  std::set<std::string> produced;
  for (int t = 0; t < kTopics; ++t) {
    topics.push_back(base + "-" + std::to_string(t));
    createTopic(a, topics.back(), kPartitions, {{"retention.ms", "86400000"}});
    auto batch = records(topics.back(), 0, kRecords / kTopics);
    produceAll(a, topics.back(), batch);
    for (const auto& m : batch) produced.insert(m.value);
  }
  // The group reads part on A and commits what it read.
  std::vector<Seen> readOnA;
  {
    auto app = consumer(a, group, topics);
    readOnA = readRecords(*app, kReadOnA, kReadOnA, 0ms, 60s);
    ASSERT_EQ(app->commitSync(), RdKafka::ERR_NO_ERROR);
    app->close();
  }
  ASSERT_EQ(readOnA.size(), static_cast<size_t>(kReadOnA));

  const std::string dir = makeTempDir("rtmirrordrill");
  RuntimeProcess mirror;
  writeFile(dir + "/mirror.json", mirrorFunction(a, b, base, group).dump(2));
  mirror.start(freeLoopbackPort(), {"--config", dir + "/mirror.json"}, dir + "/mirror.log");
  ASSERT_TRUE(mirror.waitReady(60s)) << mirror.log();

  // While it runs: a new topic, a topic grown 6 -> 8, a config changed on A.
  const std::string added = base + "-added";
  createTopic(a, added, 3);
  growTopic(a, topics[1], 8);
  setTopicConfig(a, topics[2], "retention.ms", "3600000");
  for (const std::string& topic : {added, topics[1]}) {
    auto batch = records(topic, 1'000'000, kLater);
    produceAll(a, topic, batch);
    for (const auto& m : batch) produced.insert(m.value);
  }
  topics.push_back(added);

  // Everything copied (the cheap check first, the mirror's own lag gauges): 0 records behind on the
  // 56 partitions, the added topic's and the grown ones included.
  ASSERT_TRUE(waitUntil(180s,
                        [&] {
                          std::string text = httpGet(mirror.port(), "/metrics").body;
                          auto has = [&](const std::string& topic, int partition) {
                            return text.find("sluice_mirror_replication_lag_records{partition=\"" +
                                             std::to_string(partition) + "\",topic=\"" + topic + "\"} 0") !=
                                   std::string::npos;
                          };
                          return metricSum(text, "sluice_mirror_replication_lag_records", base) == 0 &&
                                 has(topics[1], 7) && has(added, 2) && has(topics[7], 5);
                        }))
      << httpGet(mirror.port(), "/metrics").body << mirror.log();
  // The group translated: its offsets on B are those on A (B's topics are fresh copies, offset for offset).
  std::map<std::string, std::vector<int32_t>> partitions;
  for (const auto& topic : topics) {
    int count = topic == added ? 3 : (topic == topics[1] ? 8 : kPartitions);
    for (int32_t p = 0; p < count; ++p) partitions[topic].push_back(p);
  }
  auto translated = [&] {
    for (int t = 0; t < kTopics; ++t) {
      if (committedOffsets(b, group, topics[t], partitions[topics[t]]) !=
          committedOffsets(a, group, topics[t], partitions[topics[t]])) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(waitUntil(60s, translated)) << mirror.log();
  EXPECT_EQ(partitionCountOf(b, added), 3);
  EXPECT_EQ(partitionCountOf(b, topics[1]), 8);
  ASSERT_TRUE(waitUntil(30s, [&] { return topicConfigsSetOn(b, topics[2]).at("retention.ms") == "3600000"; }))
      << mirror.log();

  const auto failedAt = std::chrono::steady_clock::now();
  clusterA.kill();  // the disaster: kill -9 of A's broker
  std::vector<Seen> readOnB;
  {
    auto app = consumer(b, group, topics);
    readOnB = readRecords(*app, produced.size(), produced.size() - kReadOnA, 3s, 120s);
    app->close();
  }
  const double failoverSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - failedAt).count();

  std::set<std::string> seen;
  size_t duplicates = 0;
  for (const auto& s : readOnA) seen.insert(s.value);
  for (const auto& s : readOnB) duplicates += seen.insert(s.value).second ? 0 : 1;
  size_t lost = 0;
  for (const auto& value : produced) lost += seen.contains(value) ? 0 : 1;
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(readOnA.size() + readOnB.size(), produced.size());
  expectOrdered(readOnA, "A");
  expectOrdered(readOnB, "B");
  std::cout << "drill: " << produced.size() << " records, " << readOnA.size() << " read on A, " << readOnB.size()
            << " on B after the failover (" << failoverSeconds << " s), " << duplicates << " duplicates, " << lost
            << " lost; whole drill "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";

  // With A gone the mirror still drains within a replica's termination grace
  // (it took ~48 s: librdkafka held the group's close for session.timeout.ms
  // with commits A could never confirm). Every record was read on B above.
  const auto drainStarted = std::chrono::steady_clock::now();
  mirror.signal(SIGTERM);
  EXPECT_EQ(mirror.waitFor(10s), 0) << mirror.log();
  std::cout << "mirror drained with A dead in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - drainStarted).count() << " s\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
