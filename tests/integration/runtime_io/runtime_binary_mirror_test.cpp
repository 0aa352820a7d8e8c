// MQ disaster recovery (seed scenario 5) with the sluice-runtime BINARY: a
// built-in pipeline of only `mirror` (no Python) copies a topic on the first
// Kafka cluster (KAFKA_BOOTSTRAP) to a topic on the second (KAFKA_BOOTSTRAP_B).
// Every record arrives once, in the same partition, in the same order within
// it, with its key, value and headers byte for byte (binary included).
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

  json config = {
      {"name", "dr-mirror"},
      {"runtime", "builtin"},
      {"pipeline", json::array({{{"mirror", json::object()}}})},
      {"outputs", json::array({{{"name", "b"}, {"kafka", {{"bootstrapServers", clusterB}, {"topic", topic}}}}})},
      {"triggers", json::array({{{"name", "a"},
                                 {"kafka",
                                  {{"bootstrapServers", clusterA},
                                   {"topics", json::array({topic})},
                                   {"consumerGroup", uniqueName("mirror")},
                                   {"initialOffset", "earliest"}}}}})}};
  writeFile(dir + "/function.json", config.dump(2));
  RuntimeProcess mirror;
  mirror.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/mirror.log");
  ASSERT_TRUE(mirror.waitReady(60s)) << mirror.log();

  auto source = consumeAll(clusterA, topic, kMessages, 1s, 60s);
  auto copied = consumeAll(clusterB, topic, kMessages, 3s, 120s);
  ASSERT_EQ(source.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(copied.size(), static_cast<size_t>(kMessages)) << "duplicates or losses";

  // Per partition, in offset order: (key, value, headers) must match exactly.
  using Row = std::tuple<std::string, std::string, runtime::Headers>;
  auto byPartition = [](const std::vector<ConsumedRecord>& records) {
    std::map<int32_t, std::vector<std::pair<int64_t, Row>>> out;
    for (const auto& r : records) out[r.partition].push_back({r.offset, Row{r.key, r.value, r.headers}});
    std::map<int32_t, std::vector<Row>> rows;
    for (auto& [partition, list] : out) {
      std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
      for (auto& [offset, row] : list) rows[partition].push_back(row);
    }
    return rows;
  };
  auto expected = byPartition(source);
  auto actual = byPartition(copied);
  EXPECT_EQ(expected.size(), static_cast<size_t>(kPartitions));
  for (const auto& [partition, rows] : expected) {
    const auto& got = actual[partition];
    ASSERT_EQ(got.size(), rows.size()) << "partition " << partition;
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(got[i], rows[i]) << "partition " << partition << " position " << i;
    }
  }

  mirror.signal(SIGTERM);
  EXPECT_EQ(mirror.waitFor(60s), 0) << mirror.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
