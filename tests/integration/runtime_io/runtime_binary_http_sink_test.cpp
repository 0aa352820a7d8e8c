// The HTTP output against a real HTTP server — a second sluice-runtime's
// /invoke, whose Python handler appends what it receives to a file: every
// record arrives once with the bearer token from the environment; a record the
// server refuses (HTTP 500) is retried, then rejected with the server's answer
// in the error, and its input is not acknowledged as written.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime_process.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kReceiver = R"PY(
import os

def main_handler(event, context):
    data = event["data"]
    if "poison" in data:
        raise ValueError("refused " + data)
    headers = event["headers"]
    auth = headers.get("authorization") if isinstance(headers, dict) else dict(headers).get("authorization")
    with open(os.environ["RECEIVED_FILE"], "a") as f:
        f.write("%s|%s\n" % (data, auth))
)PY";

TEST(RuntimeBinaryHttpSinkTest, EveryRecordReachesARealHttpServerOnceAndRefusalsAreRetriedThenRejected) {
  constexpr int kFiles = 6;
  const std::string dir = makeTempDir("rthttp");
  fs::create_directories(dir + "/code");
  fs::create_directories(dir + "/in");
  writeFile(dir + "/code/index.py", kReceiver);
  json receiverConfig = {{"name", "receiver"},
                         {"runtime", "python3.11"},
                         {"codeDir", dir + "/code"},
                         {"environment", {{"RECEIVED_FILE", dir + "/received.txt"}}},
                         {"outputs", json::array({{{"name", "none"}, {"dir", {{"path", dir}}}}})},
                         {"triggers", json::array({{{"name", "web"}, {"http", json::object()}}})}};
  writeFile(dir + "/receiver.json", receiverConfig.dump(2));
  RuntimeProcess receiver;
  receiver.start(freeLoopbackPort(), {"--config", dir + "/receiver.json"}, dir + "/receiver.log");
  ASSERT_TRUE(receiver.waitReady(60s)) << receiver.log();

  setenv("SLUICE_TEST_HOOK_TOKEN", "s3cret", 1);
  // The receiver is a replica: /invoke on its data port, with the invoke token it accepts.
  const std::string url = "http://127.0.0.1:" + std::to_string(receiver.dataPort()) + "/invoke";
  json senderConfig = {
      {"name", "sender"},
      {"runtime", "builtin"},
      {"pipeline", json::array({{{"mirror", json::object()}}})},
      {"retry", {{"maxAttempts", 2}, {"backoff", {{"initialDelay", "10ms"}, {"maxDelay", "50ms"}}}}},
      {"outputs", json::array({{{"name", "hook"},
                                {"http",
                                 {{"url", url},
                                  {"bearerTokenEnv", "SLUICE_TEST_HOOK_TOKEN"},
                                  {"headers", {{"X-Sluice-Invoke-Token", kTestInvokeToken}}}}}}})},
      {"triggers",
       json::array({{{"name", "files"},
                     {"objectStore", {{"kind", "dir"}, {"prefix", dir + "/in"}, {"pollInterval", "200ms"}}}}})}};
  writeFile(dir + "/sender.json", senderConfig.dump(2));
  RuntimeProcess sender;
  sender.start(freeLoopbackPort(), {"--config", dir + "/sender.json"}, dir + "/sender.log");
  ASSERT_TRUE(sender.waitReady(60s)) << sender.log();
  for (int f = 0; f < kFiles; ++f) {
    std::string name = f == kFiles - 1 ? "poison-1" : "item-" + std::to_string(f);
    writeFile(dir + "/in/.tmp", name);
    fs::rename(dir + "/in/.tmp", dir + "/in/" + name);
  }

  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto inputsLeft = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir + "/in")) n += e.is_regular_file() ? 1 : 0;
    return n;
  };
  while (std::chrono::steady_clock::now() < deadline && inputsLeft() > 0) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(inputsLeft(), 0u) << sender.log();
  std::this_thread::sleep_for(500ms);  // anything sent twice would show up by now

  std::map<std::string, int> received;
  std::istringstream lines(fs::exists(dir + "/received.txt") ? readFile(dir + "/received.txt") : "");
  for (std::string line; std::getline(lines, line);) ++received[line];
  std::map<std::string, int> expected;
  for (int f = 0; f < kFiles - 1; ++f) expected["item-" + std::to_string(f) + "|Bearer s3cret"] = 1;
  EXPECT_EQ(received, expected);
  EXPECT_TRUE(fs::exists(dir + "/in/.sluice-failed/poison-1")) << "the refused record's input is not acknowledged";
  EXPECT_NE(sender.log().find("http output POST " + url + ": HTTP 500: Internal: ValueError: refused poison-1"),
            std::string::npos)
      << sender.log();
  HttpReply metrics = httpGet(sender.port(), "/metrics");
  EXPECT_EQ(metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"files\""), kFiles - 1);
  sender.signal(SIGTERM);
  receiver.signal(SIGTERM);
  EXPECT_EQ(sender.waitFor(60s), 0) << sender.log();
  EXPECT_EQ(receiver.waitFor(60s), 0) << receiver.log();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
