// HTTP push and cron events through /invoke on the sluice-runtime BINARY with
// a Python handler (no broker needed): bad input — invalid JSON, binary,
// invalid UTF-8 — gets a clear error per request while the replica stays
// healthy, a 10 MB payload is handled, cron ticks arrive as cron events and
// their records go to the Function's outputs (the answer, 204, says the tick
// is settled); and
// with eventShape scf the seed's main_handler sample and an SCF timer/API
// gateway handler run unchanged.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct InvokeFixture {
  std::string dir = makeTempDir("rtinvoke");
  RuntimeProcess runtime;

  InvokeFixture(const std::string& handler, const std::string& shape) {
    std::filesystem::create_directories(dir + "/code");
    std::filesystem::create_directories(dir + "/out");
    writeFile(dir + "/code/index.py", handler);
    json config = {{"name", "web"},
                   {"runtime", "python3.11"},
                   {"codeDir", dir + "/code"},
                   {"eventShape", shape},
                   {"outputs", json::array({{{"name", "out"}, {"dir", {{"path", dir + "/out"}}}}})},
                   {"triggers", json::array({{{"name", "web"}, {"http", json::object()}},
                                             {{"name", "nightly"}, {"cron", {{"schedule", "0 0 * * *"}}}}})}};
    writeFile(dir + "/function.json", config.dump(2));
    // Above the default /invoke body limit (6 MiB, as Lambda) for the 10 MB payload below.
    runtime.start(freeLoopbackPort(), {"--config", dir + "/function.json", "--invoke-max-body-bytes", "16777216"},
                  dir + "/runtime.log");
  }
  ~InvokeFixture() { std::filesystem::remove_all(dir); }
};

constexpr const char* kJsonHandler = R"PY(
import json

def main_handler(event, context):
    body = json.loads(event["data"])
    return json.dumps({"id": body["id"], "size": len(body.get("pad", "")), "type": event["type"]})
)PY";

TEST(RuntimeBinaryInvokeTest, BadInputGetsAClearErrorPerRequestAndTheReplicaStaysHealthy) {
  InvokeFixture f(kJsonHandler, "canonical");
  ASSERT_TRUE(f.runtime.waitReady(60s)) << f.runtime.log();
  const int port = f.runtime.port();
  const int data = f.runtime.dataPort();

  HttpReply ok = invokeReplica(data, R"({"id": "ok-1"})");
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(ok.body, R"({"id": "ok-1", "size": 0, "type": "http.request"})");

  HttpReply notJson = invokeReplica(data, "{not json");
  EXPECT_EQ(notJson.code, 500);
  EXPECT_EQ(notJson.body,
            "Internal: JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n");

  // json.loads guesses an encoding for bytes (0x00 first: UTF-16), so the error is the JSON one.
  HttpReply binary = invokeReplica(data, std::string("\x00\x01\xff\xfe", 4));
  EXPECT_EQ(binary.code, 500);
  EXPECT_EQ(binary.body, "Internal: JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n");

  HttpReply badUtf8 = invokeReplica(data, std::string("{\"id\": \"\xc3\x28\"}"));
  EXPECT_EQ(badUtf8.code, 500);
  EXPECT_EQ(badUtf8.body,
            "Internal: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xc3 in position 8: invalid continuation "
            "byte\n");

  const std::string pad(size_t{10} * 1024 * 1024, 'x');
  HttpReply big = invokeReplica(data, R"({"id": "big", "pad": ")" + pad + "\"}");
  EXPECT_EQ(big.code, 200);
  EXPECT_EQ(big.body, R"({"id": "big", "size": 10485760, "type": "http.request"})");

  HttpReply tick = invokeReplica(data, R"({"id": "tick-1"})",
                                 {{"X-Sluice-Trigger", "nightly"}, {"X-Sluice-Event-Type", "cron.tick"}});
  EXPECT_EQ(tick.code, 204) << tick.body;
  EXPECT_EQ(dirSinkRecords(f.dir + "/out"),
            std::vector<std::string>{R"({"id": "tick-1", "size": 0, "type": "cron.tick"})"});

  EXPECT_EQ(httpGet(port, "/healthz").code, 200) << "bad input must not make the replica unhealthy";
  // Pushes without X-Sluice-Trigger go to the function's only http trigger, "web".
  HttpReply metrics = httpGet(port, "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"web\""), 2);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_failed_total", "trigger=\"web\""), 3);
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"nightly\""), 1);
  f.runtime.signal(SIGTERM);
  EXPECT_EQ(f.runtime.waitFor(60s), 0) << f.runtime.log();
}

// The seed's sample, byte for byte (serverless-stream-processing.zh.md).
constexpr const char* kSeedSample = R"PY(import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def main_handler(event, context):
    logger.info('got event{}'.format(event))
    print("got event{}".format(event))
    return 'Hello World!'
)PY";

// Written for Tencent SCF's timer and API gateway triggers.
constexpr const char* kScfHandler = R"PY(
def main_handler(event, context):
    if event.get("Type") == "Timer":
        return "timer %s fired with %s" % (event["TriggerName"], event["Message"])
    return "%s %s %s" % (event["httpMethod"], event["requestContext"]["httpMethod"], event["body"])
)PY";

TEST(RuntimeBinaryInvokeTest, ScfHandlersRunUnchanged) {
  {
    InvokeFixture seed(kSeedSample, "scf");
    ASSERT_TRUE(seed.runtime.waitReady(60s)) << seed.runtime.log();
    HttpReply reply = invokeReplica(seed.runtime.dataPort(), "anything");
    EXPECT_EQ(reply.code, 200);
    EXPECT_EQ(reply.body, "Hello World!");
    EXPECT_NE(seed.runtime.log().find("got event{"), std::string::npos) << "the sample's print reaches the log";
    seed.runtime.signal(SIGTERM);
    EXPECT_EQ(seed.runtime.waitFor(60s), 0);
  }
  InvokeFixture scf(kScfHandler, "scf");
  ASSERT_TRUE(scf.runtime.waitReady(60s)) << scf.runtime.log();
  HttpReply timer = invokeReplica(scf.runtime.dataPort(), "nightly-report",
                                  {{"X-Sluice-Trigger", "nightly"}, {"X-Sluice-Event-Type", "cron.tick"}});
  EXPECT_EQ(timer.code, 204) << timer.body;
  EXPECT_EQ(dirSinkRecords(scf.dir + "/out"), std::vector<std::string>{"timer nightly fired with nightly-report"});
  HttpReply api = invokeReplica(scf.runtime.dataPort(), "{\"q\": 1}");
  EXPECT_EQ(api.code, 200);
  EXPECT_EQ(api.body, "POST POST {\"q\": 1}");
  scf.runtime.signal(SIGTERM);
  EXPECT_EQ(scf.runtime.waitFor(60s), 0) << scf.runtime.log();
}

}  // namespace
}  // namespace sluice::testing
