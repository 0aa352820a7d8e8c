// Function.spec.concurrency on the sluice-runtime BINARY (issue 13): a
// replica with concurrency 8 runs eight /invoke calls of its Python handler at
// once. The handler waits on a threading.Barrier(8), which only eight calls
// inside it together pass; run one at a time, the first would wait until the
// barrier broke and every call would fail. No broker: an http trigger.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Answers with the most calls it ever had inside it at once, once eight met.
constexpr const char* kMeetingHandler = R"PY(
import threading
lock = threading.Lock()
state = {"now": 0, "max": 0}
barrier = threading.Barrier(8, timeout=30)

def main_handler(event, context):
    with lock:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    try:
        barrier.wait()
    finally:
        with lock:
            state["now"] -= 1
    return "%d at once" % state["max"]
)PY";

TEST(RuntimeBinaryConcurrencyTest, ConcurrencyEightRunsEightInvocationsOfTheHandlerAtOnce) {
  const std::string dir = makeTempDir("rtconcurrency");
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", kMeetingHandler);
  json config = {{"name", "meet"},           {"runtime", "python3.11"},
                 {"codeDir", dir + "/code"}, {"concurrency", 8},
                 {"timeoutSeconds", 60},     {"triggers", json::array({{{"name", "web"}, {"http", json::object()}}})}};
  writeFile(dir + "/function.json", config.dump(2));
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/runtime.log");
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();

  std::vector<HttpReply> replies(8);
  {
    std::vector<std::jthread> callers;
    for (size_t i = 0; i < replies.size(); ++i) {
      callers.emplace_back([&, i] { replies[i] = invokeReplica(runtime.dataPort(), "call " + std::to_string(i)); });
    }
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i].code, 200) << "call " << i << ": " << replies[i].body << "\n" << runtime.log();
    EXPECT_EQ(replies[i].body, "8 at once") << "call " << i;
  }
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(30s), 0) << runtime.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
