// Cooperative-sticky rebalancing with sluice-runtime BINARIES against the real
// Kafka (KAFKA_BOOTSTRAP): two replicas consume a 6-partition topic, a third
// joins mid-stream, then one of the first two leaves gracefully (SIGTERM).
// Every record reaches the output exactly once (graceful moves replay
// nothing), and the replicas' logs show incremental rebalances: every
// assignment is cooperative, and a replica gives partitions up while keeping
// others (an eager rebalance revokes everything).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// A few ms per record keeps the stream running long enough for the moves to
// happen in the middle of it.
constexpr const char* kSlowCopy = R"PY(
import time

def main_handler(event, context):
    time.sleep(0.002)
    return {"value": event["data"], "key": event["key"]}
)PY";

double processed(const RuntimeProcess& replica) {
  HttpReply metrics = httpGet(replica.port(), "/metrics");
  if (metrics.code != 200) return 0;
  return metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"orders\"");
}

// Waits until the replicas together processed `target` events; false on timeout.
bool waitProcessed(const std::vector<const RuntimeProcess*>& replicas, double target, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    double sum = 0;
    for (const RuntimeProcess* r : replicas) sum += processed(*r);
    if (sum >= target) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

TEST(RuntimeBinaryKafkaRebalanceTest, ThirdJoinsAndOneLeavesMidStreamWithCooperativeMovesAndNoDuplicates) {
  constexpr int kMessages = 20000;
  const std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string in = uniqueName("rebalance-in");
  const std::string out = uniqueName("rebalance-out");
  const std::string dir = makeTempDir("rtrebalance");
  createTopic(bootstrap, in, 6);
  createTopic(bootstrap, out, 6);
  const std::string config =
      writeKafkaPythonFunction(dir, "copy", kSlowCopy, bootstrap, in, out, uniqueName("rebalance-group"));
  std::vector<TestMessage> messages;
  messages.reserve(kMessages);
  for (int i = 0; i < kMessages; ++i)
    messages.push_back({"k" + std::to_string(i % 101), "id-" + std::to_string(i), {}});
  produceAll(bootstrap, in, messages);

  RuntimeProcess first;
  RuntimeProcess second;
  RuntimeProcess third;
  first.start(freeLoopbackPort(), {"--config", config}, dir + "/first.log");
  second.start(freeLoopbackPort(), {"--config", config}, dir + "/second.log");
  ASSERT_TRUE(first.waitReady(60s)) << first.log();
  ASSERT_TRUE(second.waitReady(60s)) << second.log();

  // Mid-stream: a third replica joins...
  ASSERT_TRUE(waitProcessed({&first, &second}, kMessages * 0.15, 180s)) << first.log() << second.log();
  third.start(freeLoopbackPort(), {"--config", config}, dir + "/third.log");
  ASSERT_TRUE(third.waitReady(60s)) << third.log();
  // ...and, once it has work, the first leaves gracefully.
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (processed(third) < 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(200ms);
  ASSERT_GE(processed(third), 200) << "the joining replica got no partitions\n" << third.log();
  double beforeLeave = processed(first) + processed(second) + processed(third);
  EXPECT_LT(beforeLeave, kMessages * 0.8) << "the stream ended before the moves; the test shows nothing";
  first.signal(SIGTERM);
  EXPECT_EQ(first.waitFor(120s), 0) << first.log();

  auto records = consumeAll(bootstrap, out, kMessages, 5s, 400s);
  second.signal(SIGTERM);
  third.signal(SIGTERM);
  EXPECT_EQ(second.waitFor(120s), 0) << second.log();
  EXPECT_EQ(third.waitFor(120s), 0) << third.log();

  std::map<std::string, int> ids;
  for (const auto& r : records) ++ids[r.value];
  int missing = 0;
  for (int i = 0; i < kMessages; ++i) missing += ids.count("id-" + std::to_string(i)) == 0;
  EXPECT_EQ(missing, 0) << "records lost";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(records.size(), static_cast<size_t>(kMessages))
      << (records.size() - ids.size()) << " duplicates after graceful moves";

  // Cooperative: every assignment was incremental, and some replica gave
  // partitions up while keeping others.
  const std::regex assigned(R"(assigned \d+ partition\(s\) \((\w+) rebalance\))");
  const std::regex keptSome(R"(revoked [1-9]\d* partition\(s\), [1-9]\d* still owned)");
  int assignments = 0;
  bool incrementalRevoke = false;
  for (const RuntimeProcess* replica : {&first, &second, &third}) {
    std::string log = replica->log();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), assigned); it != std::sregex_iterator(); ++it) {
      ++assignments;
      EXPECT_EQ((*it)[1].str(), "cooperative") << log;
    }
    incrementalRevoke = incrementalRevoke || std::regex_search(log, keptSome);
  }
  EXPECT_GE(assignments, 4) << "two initial assignments, the joiner's, and the leaver's partitions moving";
  EXPECT_TRUE(incrementalRevoke) << first.log() << second.log();
  std::cout << "[figure] cooperative rebalance, 3 replicas (join + graceful leave mid-stream): " << kMessages
            << " records, " << (records.size() - ids.size()) << " duplicates, " << missing << " lost\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
