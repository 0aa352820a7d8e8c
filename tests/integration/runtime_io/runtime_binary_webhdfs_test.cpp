// Log cleansing from HDFS with the sluice-runtime BINARY against a real HDFS
// (WEBHDFS_ENDPOINT: a NameNode and a DataNode from tests/env/components/hdfs.sh)
// and the real Kafka (KAFKA_BOOTSTRAP): gzip log files in an HDFS directory are
// claimed by one of two replicas each (exclusive CREATE of a claim file),
// decompressed and cleaned by a built-in pipeline, written to Kafka line by
// line, then moved (RENAME) or deleted. Without faults every kept line arrives
// exactly once and every file is processed once; with a replica killed by
// SIGKILL mid-stream, its claims are taken over after claimTtl and every line
// still arrives (at least once). The WebHDFS object-count scaler reads the
// number of waiting files from the same HDFS.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_client.h"
#include "kafka_test_util.h"
#include "log_cleansing_fixture.h"
#include "objectstore/webhdfs_client.h"
#include "runtime_process.h"
#include "s3_test_util.h"
#include "scalers/object_count_scaler.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kUser = "etl";

std::shared_ptr<objectstore::WebHdfsClient> hdfsClient() {
  return std::make_shared<objectstore::WebHdfsClient>(
      objectstore::WebHdfsOptions{requiredEnv("WEBHDFS_ENDPOINT"), kUser}, http::makeBeastHttpClient());
}

// Names of the waiting files (as the source and the scaler see them) in `directory`.
std::vector<std::string> waitingFiles(objectstore::WebHdfsClient& hdfs, const std::string& directory) {
  std::vector<std::string> names;
  auto listed = hdfs.list(directory);
  if (!listed.isOk()) return {"<" + listed.status().toString() + ">"};
  for (const auto& entry : *listed) {
    if (objectstore::isWaitingFile(entry)) names.push_back(entry.name);
  }
  return names;
}

// The gzip logs in a fresh HDFS directory, moved into done/ or deleted once processed.
struct HdfsLogCleansing {
  std::string root = "/" + uniqueName("logs");
  std::string incoming = root + "/incoming";
  std::string done = root + "/done";
  std::shared_ptr<objectstore::WebHdfsClient> hdfs = hdfsClient();
  std::map<std::string, std::string> uploaded;  // file name -> bytes
  LogCleansingFixture run;

  // afterProcessing: "move" (into done/) or "delete". claimTtl: long when no
  // replica dies, so a replica slowed down by a loaded machine keeps its claims.
  HdfsLogCleansing(const std::string& afterProcessing, const std::string& claimTtl)
      : run("hdfs-log-cleaner", store(afterProcessing, claimTtl)) {
    Status made = hdfs->mkdirs(incoming);
    EXPECT_TRUE(made.isOk()) << made.toString();
  }
  ~HdfsLogCleansing() {
    (void)hdfs->remove(root);  // non-recursive: leaves a non-empty tree for inspection
  }

  json store(const std::string& afterProcessing, const std::string& claimTtl) const {
    json store = {{"kind", "webhdfs"},   {"endpoint", requiredEnv("WEBHDFS_ENDPOINT")}, {"user", kUser},
                  {"prefix", incoming},  {"afterProcessing", afterProcessing},          {"pollInterval", "200ms"},
                  {"claimTtl", claimTtl}};
    if (afterProcessing == "move") store["moveToPrefix"] = done;
    return store;
  }

  // Uploads as HDFS writers should: a '_'-prefixed name, then RENAME into place.
  void upload(int files, int lines) {
    for (int f = 0; f < files; ++f) {
      const std::string name = "app-" + std::to_string(f) + ".log.gz";
      uploaded[name] = gzipped(logFile(f, lines));
      Status put = hdfs->create(incoming + "/_COPYING_" + name, uploaded[name], false);
      ASSERT_TRUE(put.isOk()) << put.toString();
      Status renamed = hdfs->rename(incoming + "/_COPYING_" + name, incoming + "/" + name);
      ASSERT_TRUE(renamed.isOk()) << renamed.toString();
    }
  }

  // Waits until nothing waits in incoming/ and `expectDone` files are in done/.
  bool waitAllProcessed(size_t expectDone, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitingFiles(*hdfs, incoming).empty() && claims().empty() &&
          (expectDone == 0 || waitingFiles(*hdfs, done).size() == expectDone)) {
        return true;
      }
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  std::vector<std::string> claims() {
    std::vector<std::string> names;
    auto listed = hdfs->list(incoming + "/.sluice-claims");
    if (listed.isOk()) {
      for (const auto& entry : *listed) names.push_back(entry.name);
    }
    return names;
  }
};

TEST(RuntimeBinaryWebHdfsTest, TwoReplicasCleanEveryGzipLogOnceAndMoveEachFileOnce) {
  constexpr int kFiles = 20;
  constexpr int kLines = 100;
  HdfsLogCleansing f("move", "60s");
  ReplicaPair replicas(f.run);
  ASSERT_TRUE(replicas.waitReady());
  f.upload(kFiles, kLines);

  ASSERT_TRUE(f.waitAllProcessed(kFiles, 120s)) << replicas.one.log() << replicas.two.log();
  expectEveryKeptLineOnce(f.run.cleanedIds(kFiles, kLines, 60s), kFiles, kLines);
  // The moved files are the uploaded bytes, untouched.
  auto moved = f.hdfs->read(f.done + "/app-3.log.gz");
  ASSERT_TRUE(moved.isOk()) << moved.status().toString();
  EXPECT_TRUE(*moved == f.uploaded["app-3.log.gz"]) << "the moved file differs from the upload";

  // Each file was processed by exactly one replica, and both took part.
  EXPECT_EQ(replicas.processed("webhdfs log cleansing", "files"), kFiles);
  replicas.terminate();
}

TEST(RuntimeBinaryWebHdfsTest, AReplicaKilledMidStreamLosesNoLineItsClaimsAreTakenOver) {
  constexpr int kFiles = 60;
  constexpr int kLines = 2000;
  HdfsLogCleansing f("delete", "3s");
  f.upload(kFiles, kLines);
  RuntimeProcess one;
  RuntimeProcess two;
  const std::string claimDir = f.incoming + "/.sluice-claims/";
  ASSERT_NO_FATAL_FAILURE(killOneHalfWayThroughAFile(f.run, kFiles, kLines, one, two, "webhdfs kill -9"));

  // Its claims are still in HDFS, since a claim goes only after its file is
  // done: a claim holds "<host>-<pid>\n".
  const std::string owner = "-" + std::to_string(one.startedPid()) + "\n";
  int orphaned = 0;
  for (const std::string& name : f.claims()) {
    auto body = f.hdfs->read(claimDir + name);
    if (body.isOk() && body->find(owner) != std::string::npos) ++orphaned;
  }
  std::cout << "[figure] webhdfs kill -9: claims orphaned by the killed replica " << orphaned << "\n";
  ASSERT_GT(orphaned, 0) << "the kill did not land mid-stream; the test would prove nothing";

  ASSERT_TRUE(f.waitAllProcessed(0, 150s)) << two.log();
  expectEveryKeptLineAtLeastOnce(f.run.cleanedIds(kFiles, kLines, 90s), kFiles, kLines, "webhdfs kill -9");
  EXPECT_NE(two.log().find("took over the abandoned claim"), std::string::npos) << two.log();
  auto left = f.hdfs->list(f.incoming);
  ASSERT_TRUE(left.isOk()) << left.status().toString();
  for (const auto& entry : *left) EXPECT_TRUE(entry.directory) << entry.name << " not deleted";
  two.signal(SIGTERM);
  EXPECT_EQ(two.waitFor(60s), 0) << two.log();
}

// The autoscaler's WebHDFS object count against the same HDFS: waiting files
// only (not directories, not '_'-prefixed uploads in progress), capped.
TEST(RuntimeBinaryWebHdfsTest, ObjectCountScalerCountsTheWaitingFiles) {
  auto hdfs = hdfsClient();
  const std::string directory = "/" + uniqueName("count");
  ASSERT_TRUE(hdfs->mkdirs(directory + "/.sluice-claims").isOk());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(hdfs->create(directory + "/f" + std::to_string(i), "x", false).isOk());
  ASSERT_TRUE(hdfs->create(directory + "/_COPYING_f7", "x", false).isOk());

  scalers::ObjectCountOptions options;
  options.targetObjectCount = 2;
  scalers::ObjectCountScaler scaler(
      options, std::make_shared<scalers::WebHdfsObjectCounter>(requiredEnv("WEBHDFS_ENDPOINT"), directory, kUser,
                                                               http::makeCppRestHttpClient()));
  auto reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 7);
  EXPECT_TRUE(reading->active);

  scalers::WebHdfsObjectCounter capped(requiredEnv("WEBHDFS_ENDPOINT"), directory, kUser,
                                       http::makeCppRestHttpClient());
  auto three = capped.count(3);
  ASSERT_TRUE(three.isOk());
  EXPECT_EQ(*three, 3);

  scalers::WebHdfsObjectCounter missing(requiredEnv("WEBHDFS_ENDPOINT"), directory + "/nope", kUser,
                                        http::makeCppRestHttpClient());
  auto gone = missing.count(10);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("does not exist"), std::string::npos) << gone.status().toString();
}

}  // namespace
}  // namespace sluice::testing
