// Two sluice-runtime BINARY processes share one watched directory (objectStore
// kind dir) with a built-in pipeline (decompress -> mask, no Python) and a dir
// output: every input file is processed by exactly one replica, every line
// reaches the output directory once as its own complete file, and processed
// inputs are moved. Needs no shared server. With a replica killed by SIGKILL
// half-way through a file, its claims are taken over after claimTtl and every
// line still arrives at least once (the log cleansing pipeline into the real
// Kafka, KAFKA_BOOTSTRAP, as for S3 and WebHDFS).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "log_cleansing_fixture.h"
#include "runtime_process.h"
#include "s3_test_util.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

TEST(RuntimeBinaryDirTest, TwoReplicasProcessEachFileOnceAndWriteEveryLineAsAFile) {
  constexpr int kFiles = 20;
  constexpr int kLines = 50;
  std::string root = makeTempDir("rtdir");
  for (const char* sub : {"in", "out", "done"}) fs::create_directories(root + "/" + sub);
  json config = {{"name", "log-cleaner"},
                 {"runtime", "builtin"},
                 {"pipeline", json::array({{{"decompress", {{"format", "auto"}}}},
                                           {{"mask", {{"pattern", "\\d{6}"}, {"replacement", "<id>"}}}}})},
                 {"outputs", json::array({{{"name", "cleaned"}, {"dir", {{"path", root + "/out"}}}}})},
                 {"triggers", json::array({{{"name", "uploads"},
                                            {"objectStore",
                                             {{"kind", "dir"},
                                              {"prefix", root + "/in"},
                                              {"afterProcessing", "move"},
                                              {"moveToPrefix", root + "/done"},
                                              {"pollInterval", "200ms"}}}}})}};
  writeFile(root + "/function.json", config.dump(2));

  RuntimeProcess one;
  RuntimeProcess two;
  one.start(freeLoopbackPort(), {"--config", root + "/function.json"}, root + "/one.log");
  two.start(freeLoopbackPort(), {"--config", root + "/function.json"}, root + "/two.log");
  ASSERT_TRUE(one.waitReady(60s)) << one.log();
  ASSERT_TRUE(two.waitReady(60s)) << two.log();
  // Files are written as dot-files and renamed into place, as writers must.
  for (int f = 0; f < kFiles; ++f) {
    std::string text;
    for (int l = 0; l < kLines; ++l) {
      text += "file " + std::to_string(f) + " line " + std::to_string(l) + " user 123456\n";
    }
    writeFile(root + "/in/.tmp", text);
    fs::rename(root + "/in/.tmp", root + "/in/log-" + std::to_string(f) + ".txt");
  }

  auto countFiles = [](const std::string& dir) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         (countFiles(root + "/done") < kFiles || countFiles(root + "/out") < size_t{kFiles} * kLines)) {
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(1s);  // anything duplicated would show up by now

  std::map<std::string, int> lines;
  for (const auto& e : fs::directory_iterator(root + "/out")) {
    EXPECT_NE(e.path().filename().string()[0], '.') << "a temporary output file was left: " << e.path();
    ++lines[readFile(e.path().string())];
  }
  EXPECT_EQ(countFiles(root + "/out"), static_cast<size_t>(kFiles * kLines)) << "duplicates or losses";
  for (int f = 0; f < kFiles; ++f) {
    for (int l = 0; l < kLines; ++l) {
      std::string expected = "file " + std::to_string(f) + " line " + std::to_string(l) + " user <id>";
      EXPECT_EQ(lines[expected], 1) << expected;
    }
  }
  EXPECT_EQ(countFiles(root + "/done"), static_cast<size_t>(kFiles));
  EXPECT_EQ(countFiles(root + "/in"), 0u);

  // Both replicas took part only if the work was split; not asserted (speed dependent).
  HttpReply m1 = httpGet(one.port(), "/metrics");
  HttpReply m2 = httpGet(two.port(), "/metrics");
  std::cout << "[figure] dir trigger, 2 replicas: files processed "
            << metricSum(m1.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\"") << " + "
            << metricSum(m2.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\"") << "\n";
  EXPECT_EQ(metricSum(m1.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\"") +
                metricSum(m2.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\""),
            kFiles);
  one.signal(SIGTERM);
  two.signal(SIGTERM);
  EXPECT_EQ(one.waitFor(60s), 0) << one.log();
  EXPECT_EQ(two.waitFor(60s), 0) << two.log();
  fs::remove_all(root);
}

TEST(RuntimeBinaryDirTest, AReplicaKilledMidStreamLosesNoLineItsClaimsAreTakenOver) {
  constexpr int kFiles = 30;
  constexpr int kLines = 2000;
  const std::string in = makeTempDir("rtdir-kill");
  LogCleansingFixture run(
      "dir-log-cleaner",
      {{"kind", "dir"}, {"prefix", in}, {"afterProcessing", "delete"}, {"pollInterval", "200ms"}, {"claimTtl", "3s"}});
  for (int f = 0; f < kFiles; ++f) {
    writeFile(in + "/.tmp", gzipped(logFile(f, kLines)));
    fs::rename(in + "/.tmp", in + "/app-" + std::to_string(f) + ".log.gz");
  }
  RuntimeProcess one;
  RuntimeProcess two;
  ASSERT_NO_FATAL_FAILURE(killOneHalfWayThroughAFile(run, kFiles, kLines, one, two, "dir kill -9"));

  // Its claims stay until they go stale: a claim holds "<host>-<pid>\n".
  const std::string owner = "-" + std::to_string(one.startedPid()) + "\n";
  int orphaned = 0;
  for (const auto& claim : fs::directory_iterator(in + "/.sluice-claims")) {
    if (readFile(claim.path().string()).find(owner) != std::string::npos) ++orphaned;
  }
  std::cout << "[figure] dir kill -9: claims orphaned by the killed replica " << orphaned << "\n";
  ASSERT_GT(orphaned, 0) << "the kill did not land mid-stream; the test would prove nothing";

  auto waiting = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(in)) n += e.is_regular_file() && e.path().filename() != ".tmp";
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 150s;
  while (std::chrono::steady_clock::now() < deadline && waiting() > 0) std::this_thread::sleep_for(200ms);
  ASSERT_EQ(waiting(), 0u) << two.log();
  expectEveryKeptLineAtLeastOnce(run.cleanedIds(kFiles, kLines, 90s), kFiles, kLines, "dir kill -9");
  EXPECT_NE(two.log().find("took over the abandoned claim"), std::string::npos) << two.log();
  two.signal(SIGTERM);
  EXPECT_EQ(two.waitFor(60s), 0) << two.log();
  fs::remove_all(in);
}

}  // namespace
}  // namespace sluice::testing
