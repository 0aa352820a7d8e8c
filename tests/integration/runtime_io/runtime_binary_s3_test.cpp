// Log cleansing (seed scenario 1) with the sluice-runtime BINARY against the
// real MinIO (S3_*) and Kafka (KAFKA_BOOTSTRAP): gzip log files uploaded under
// a prefix are claimed by one of two replicas each, decompressed and cleaned by
// a built-in pipeline (no Python), written to Kafka line by line, then moved to
// done/. Without faults every kept line arrives exactly once and every object
// is processed once; with a replica killed by SIGKILL mid-stream, its claims
// are taken over after claimTtl and every line still arrives (at least once).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "log_cleansing_fixture.h"
#include "runtime_process.h"
#include "s3_test_util.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The gzip logs in a fresh bucket under incoming/, moved to done/ once processed.
struct S3LogCleansing {
  std::string bucket = uniqueName("logs");
  std::shared_ptr<objectstore::S3Client> s3 = testBucket(bucket);
  LogCleansingFixture run;

  // claimTtl: long when no replica dies, so a replica slowed down by a loaded
  // machine never has its claim taken over (which would duplicate an object).
  explicit S3LogCleansing(const std::string& claimTtl)
      : run("log-cleaner", {{"kind", "s3"},
                            {"endpoint", requiredEnv("S3_ENDPOINT")},
                            {"region", requiredEnv("S3_REGION")},
                            {"bucket", bucket},
                            {"prefix", "incoming/"},
                            {"accessKeyEnv", "S3_ACCESS_KEY"},
                            {"secretKeyEnv", "S3_SECRET_KEY"},
                            {"afterProcessing", "move"},
                            {"moveToPrefix", "done/"},
                            {"pollInterval", "200ms"},
                            {"claimTtl", claimTtl}}) {}

  void upload(int files, int lines) {
    for (int f = 0; f < files; ++f) {
      Status put = s3->put("incoming/app-" + std::to_string(f) + ".log.gz", gzipped(logFile(f, lines)));
      ASSERT_TRUE(put.isOk()) << put.toString();
    }
  }

  // Waits until nothing is left under incoming/ and every object is in done/.
  bool waitAllMoved(int files, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (listKeys(*s3, "incoming/").empty() && listKeys(*s3, "done/").size() == static_cast<size_t>(files)) {
        return true;
      }
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }
};

TEST(RuntimeBinaryS3Test, TwoReplicasCleanEveryGzipLogIntoKafkaOnceAndMoveEachObjectOnce) {
  constexpr int kFiles = 20;
  constexpr int kLines = 100;
  S3LogCleansing f("60s");
  ReplicaPair replicas(f.run);
  ASSERT_TRUE(replicas.waitReady());
  f.upload(kFiles, kLines);

  ASSERT_TRUE(f.waitAllMoved(kFiles, 120s)) << replicas.one.log() << replicas.two.log();
  expectEveryKeptLineOnce(f.run.cleanedIds(kFiles, kLines, 60s), kFiles, kLines);
  EXPECT_TRUE(listKeys(*f.s3, ".sluice/").empty()) << "claims left behind";

  // Each object was processed by exactly one replica.
  EXPECT_EQ(replicas.processed("s3 log cleansing", "objects"), kFiles);
  replicas.terminate();
}

TEST(RuntimeBinaryS3Test, AReplicaKilledMidStreamLosesNoLineItsClaimsAreTakenOver) {
  constexpr int kFiles = 60;
  constexpr int kLines = 2000;
  S3LogCleansing f("3s");
  f.upload(kFiles, kLines);
  RuntimeProcess one;
  RuntimeProcess two;
  ASSERT_NO_FATAL_FAILURE(killOneHalfWayThroughAFile(f.run, kFiles, kLines, one, two, "s3 kill -9"));

  // Its claims stay until they go stale: a claim holds "<host>-<pid>\n".
  const std::string owner = "-" + std::to_string(one.startedPid()) + "\n";
  int orphaned = 0;
  for (const std::string& key : listKeys(*f.s3, ".sluice/claims/")) {
    auto body = f.s3->get(key);
    if (body.isOk() && body->find(owner) != std::string::npos) ++orphaned;
  }
  std::cout << "[figure] s3 kill -9: claims orphaned by the killed replica " << orphaned << "\n";
  ASSERT_GT(orphaned, 0) << "the kill did not land mid-stream; the test would prove nothing";

  ASSERT_TRUE(f.waitAllMoved(kFiles, 150s)) << two.log();
  expectEveryKeptLineAtLeastOnce(f.run.cleanedIds(kFiles, kLines, 90s), kFiles, kLines, "s3 kill -9");
  EXPECT_NE(two.log().find("took over the abandoned claim"), std::string::npos) << two.log();
  EXPECT_TRUE(listKeys(*f.s3, ".sluice/").empty()) << "claims left behind";
  two.signal(SIGTERM);
  EXPECT_EQ(two.waitFor(60s), 0) << two.log();
}

// The S3 output on MinIO: each record becomes one object under the prefix,
// its bytes unchanged (binary included), and no record is written twice.
TEST(RuntimeBinaryS3Test, S3OutputWritesEveryRecordAsItsOwnObject) {
  constexpr int kFiles = 5;
  const std::string bucket = uniqueName("archive");
  auto s3 = testBucket(bucket);
  const std::string dir = makeTempDir("rts3out");
  std::filesystem::create_directories(dir + "/in");
  json config = {
      {"name", "archiver"},
      {"runtime", "builtin"},
      {"pipeline", json::array({{{"mirror", json::object()}}})},
      {"outputs", json::array({{{"name", "archive"},
                                {"s3",
                                 {{"endpoint", requiredEnv("S3_ENDPOINT")},
                                  {"region", requiredEnv("S3_REGION")},
                                  {"bucket", bucket},
                                  {"prefix", "out/"},
                                  {"accessKeyEnv", "S3_ACCESS_KEY"},
                                  {"secretKeyEnv", "S3_SECRET_KEY"}}}}})},
      {"triggers",
       json::array({{{"name", "files"},
                     {"objectStore", {{"kind", "dir"}, {"prefix", dir + "/in"}, {"pollInterval", "200ms"}}}}})}};
  writeFile(dir + "/function.json", config.dump(2));
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/runtime.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  std::multiset<std::string> expected;
  for (int f = 0; f < kFiles; ++f) {
    std::string content = "record " + std::to_string(f) + std::string("\0\xff", 2);
    expected.insert(content);
    writeFile(dir + "/in/.tmp", content);
    std::filesystem::rename(dir + "/in/.tmp", dir + "/in/r-" + std::to_string(f));
  }
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && listKeys(*s3, "out/").size() < kFiles) {
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(1s);  // anything written twice would show up by now
  std::multiset<std::string> stored;
  for (const std::string& key : listKeys(*s3, "out/")) {
    auto body = s3->get(key);
    ASSERT_TRUE(body.isOk()) << body.status().toString();
    stored.insert(*body);
  }
  EXPECT_EQ(stored, expected);
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
