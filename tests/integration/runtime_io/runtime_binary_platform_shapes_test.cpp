// Handlers written for Tencent SCF and AWS Lambda run unchanged on the
// sluice-runtime BINARY, fed by the real sources: a Function with a cron, a
// Kafka (real broker), an S3 (real MinIO, versioned bucket) and an HTTP
// trigger runs probes/platform_probe.py, which reads every field the
// platforms document for each trigger's event and for the context the way
// their samples do, and reports each one missing or of another type. The
// tests assert no report, no handler exception (every event reaches the
// output, none the dead letter) and the values the shapes derive: the COS
// key prefix and URL, the S3 versionId, the decoded Kafka key, value and
// headers, the MSK eventSourceArn, the memory limit from the Function.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "runtime_process.h"
#include "s3_test_util.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kObjectKey = "in/report 1.csv";

// One Function of `shape` with all four triggers, started and ready.
struct PlatformFixture {
  std::string dir = makeTempDir("rtplatform");
  std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  std::string topic = uniqueName("platform-in");
  std::string bucket = uniqueName("platform");
  std::shared_ptr<objectstore::S3Client> s3 = testBucket(bucket);
  std::string versionId;  // of the uploaded object, as MinIO reports it
  RuntimeProcess runtime;

  PlatformFixture(const std::string& shape, const json& compat) {
    Status versioned = s3->enableVersioning();
    EXPECT_TRUE(versioned.isOk()) << versioned.toString();
    Status put = s3->put(kObjectKey, "a,b\n1,2\n");
    EXPECT_TRUE(put.isOk()) << put.toString();
    auto head = s3->head(kObjectKey);
    EXPECT_TRUE(head.isOk()) << head.status().toString();
    if (head.isOk()) versionId = head->versionId;
    createTopic(bootstrap, topic, 1);
    produceAll(bootstrap, topic, {{"order-7", "{\"total\": 12}", {{"trace", "t-1"}}}});

    std::filesystem::create_directories(dir + "/code");
    std::filesystem::create_directories(dir + "/out");
    std::filesystem::create_directories(dir + "/dead");
    std::filesystem::copy_file(
        std::string(SLUICE_SOURCE_DIR) + "/tests/integration/runtime_io/probes/platform_probe.py",
        dir + "/code/index.py");
    json config = {{"name", "probe"},
                   {"namespace", "shapes"},
                   {"runtime", "python3.11"},
                   {"codeDir", dir + "/code"},
                   {"eventShape", shape},
                   {"compat", compat},
                   {"memoryLimitMb", 256},
                   {"environment", {{"PROBE", "1"}}},
                   {"retry", {{"maxAttempts", 1}}},
                   {"outputs", json::array({{{"name", "out"}, {"dir", {{"path", dir + "/out"}}}}})},
                   {"deadLetter", {{"dir", {{"path", dir + "/dead"}}}}},
                   {"triggers", json::array({{{"name", "nightly"}, {"cron", {{"schedule", "0 0 * * *"}}}},
                                             {{"name", "orders"},
                                              {"kafka",
                                               {{"bootstrapServers", bootstrap},
                                                {"topics", json::array({topic})},
                                                {"consumerGroup", uniqueName("platform")},
                                                {"initialOffset", "earliest"}}}},
                                             {{"name", "uploads"},
                                              {"objectStore",
                                               {{"kind", "s3"},
                                                {"endpoint", requiredEnv("S3_ENDPOINT")},
                                                {"region", requiredEnv("S3_REGION")},
                                                {"bucket", bucket},
                                                {"prefix", "in/"},
                                                {"accessKeyEnv", "S3_ACCESS_KEY"},
                                                {"secretKeyEnv", "S3_SECRET_KEY"},
                                                {"afterProcessing", "tag"},
                                                {"pollInterval", "200ms"}}}},
                                             {{"name", "web"}, {"http", json::object()}}})}};
    writeFile(dir + "/function.json", config.dump(2));
    runtime.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/runtime.log");
  }
  ~PlatformFixture() { std::filesystem::remove_all(dir); }

  // The probe's reports by trigger kind: the cron tick and the HTTP request
  // pushed as the operator and a client do, the Kafka record and the object
  // polled by the runtime. Fails the test when an event did not reach the
  // output within a minute.
  std::map<std::string, json> reports() {
    std::map<std::string, json> out;
    HttpReply tick = invokeReplica(runtime.dataPort(), "nightly-report",
                                   {{"X-Sluice-Trigger", "nightly"}, {"X-Sluice-Event-Type", "cron.tick"}});
    EXPECT_EQ(tick.code, 204) << tick.body;
    HttpReply http = invokeReplica(runtime.dataPort(), "{\"q\": 1}", {{"X-Sluice-Trigger", "web"}});
    EXPECT_EQ(http.code, 200) << http.body;
    if (http.code == 200) out["http"] = json::parse(http.body);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    std::vector<std::string> records;
    while (std::chrono::steady_clock::now() < deadline) {
      records = dirSinkRecords(dir + "/out");
      if (records.size() >= 3) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(records.size(), 3u) << runtime.log();
    EXPECT_TRUE(dirSinkRecords(dir + "/dead").empty()) << "a handler raised: " << runtime.log();
    for (const std::string& record : records) {
      json report = json::parse(record);
      EXPECT_FALSE(out.contains(report["kind"].get<std::string>())) << "twice: " << record;
      out[report["kind"].get<std::string>()] = report;
    }
    return out;
  }

  // Drains the replica; by then the object store was scanned again several
  // times, and the tagged object must not have been taken a second time.
  void stop() {
    runtime.signal(SIGTERM);
    EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
    EXPECT_EQ(dirSinkRecords(dir + "/out").size(), 3u) << "every event handled once";
  }
};

void expectNoFieldReports(const std::map<std::string, json>& reports) {
  for (const std::string kind : {"timer", "kafka", "objects", "http"}) {
    ASSERT_TRUE(reports.contains(kind)) << kind;
    EXPECT_EQ(reports.at(kind)["errors"], json::array()) << kind;
  }
}

TEST(RuntimeBinaryPlatformShapesTest, ScfHandlersReadEveryDocumentedFieldOfEachTrigger) {
  PlatformFixture f("scf", {{"appId", "1253970026"}, {"region", "ap-chengdu"}});
  ASSERT_TRUE(f.runtime.waitReady(60s)) << f.runtime.log();
  auto reports = f.reports();
  expectNoFieldReports(reports);
  EXPECT_EQ(reports["timer"]["values"]["message"], "nightly-report");
  EXPECT_EQ(reports["timer"]["values"]["trigger"], "nightly");
  EXPECT_EQ(reports["http"]["values"]["body"], "{\"q\": 1}");
  const json& kafka = reports["kafka"]["values"];
  EXPECT_EQ(kafka["topic"], f.topic);
  EXPECT_EQ(kafka["key"], "order-7");
  EXPECT_EQ(kafka["body"], "{\"total\": 12}");
  const json& objects = reports["objects"]["values"];
  EXPECT_EQ(objects["bucket"], f.bucket);
  EXPECT_EQ(objects["key"], kObjectKey) << "the /<appid>/<bucket>/ prefix strips as in SCF's samples";
  EXPECT_EQ(objects["url"], requiredEnv("S3_ENDPOINT") + "/" + f.bucket + "/in/report%201.csv");
  ASSERT_FALSE(f.versionId.empty()) << "MinIO versions the bucket";
  EXPECT_EQ(objects["vid"], f.versionId);
  EXPECT_EQ(objects["ip"], "127.0.0.1");
  for (const auto& [kind, report] : reports) {
    EXPECT_EQ(report["values"]["context"], json({{"memory", 256}, {"appid", "1253970026"}})) << kind;
  }
  f.stop();
}

TEST(RuntimeBinaryPlatformShapesTest, LambdaHandlersReadEveryDocumentedFieldOfEachTrigger) {
  PlatformFixture f("lambda", {{"accountId", "123456789012"}});
  ASSERT_TRUE(f.runtime.waitReady(60s)) << f.runtime.log();
  auto reports = f.reports();
  expectNoFieldReports(reports);
  EXPECT_EQ(reports["timer"]["values"]["rule"], "arn:aws:events:us-east-1:123456789012:rule/nightly");
  EXPECT_EQ(reports["http"]["values"]["body"], "{\"q\": 1}");
  const json& kafka = reports["kafka"]["values"];
  EXPECT_EQ(kafka["eventSource"], "SelfManagedKafka");
  EXPECT_TRUE(kafka["arn"].is_null()) << "self-managed Kafka events carry no eventSourceArn";
  ASSERT_EQ(kafka["records"].size(), 1u);
  EXPECT_EQ(kafka["records"][0], json({{"topicPartition", f.topic + "-0"},
                                       {"key", "order-7"},
                                       {"value", "{\"total\": 12}"},
                                       {"headers", {{"trace", "t-1"}}}}));
  const json& objects = reports["objects"]["values"];
  EXPECT_EQ(objects["bucket"], f.bucket);
  EXPECT_EQ(objects["key"], kObjectKey) << "unquote_plus undoes the form encoding, as in the Lambda samples";
  ASSERT_FALSE(f.versionId.empty()) << "MinIO versions the bucket";
  EXPECT_EQ(objects["versionId"], f.versionId);
  for (const auto& [kind, report] : reports) {
    EXPECT_EQ(report["values"]["context"],
              json({{"memory", "256"}, {"arn", "arn:aws:lambda:us-east-1:123456789012:function:probe"}}))
        << kind;
  }
  f.stop();
}

TEST(RuntimeBinaryPlatformShapesTest, LambdaMskFormCarriesEventSourceArn) {
  const std::string arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6a1f0a9c-4a8e-4b5e-9a55-0b7b9a3c2d11-1";
  PlatformFixture f("lambda", {{"region", "eu-west-1"},
                               {"accountId", "123456789012"},
                               {"lambdaKafkaEventSource", "aws:kafka"},
                               {"mskClusterArn", arn}});
  ASSERT_TRUE(f.runtime.waitReady(60s)) << f.runtime.log();
  auto reports = f.reports();
  expectNoFieldReports(reports);
  EXPECT_EQ(reports["kafka"]["values"]["eventSource"], "aws:kafka");
  EXPECT_EQ(reports["kafka"]["values"]["arn"], arn);
  EXPECT_EQ(reports["objects"]["values"]["region"], "eu-west-1");
  f.stop();
}

}  // namespace
}  // namespace sluice::testing
