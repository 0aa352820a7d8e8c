// `sluice logs`: every replica pod of the Function (by its label, container
// runtime, the tail asked for), each line prefixed with its pod, the
// --request-id filter, JSON lines with -o json, followed streams, and exit 1
// naming the Function when it has no pod or a pod's log cannot be read.
#include "cli/logs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <stop_token>

#include "cli/app.h"
#include "cli_harness.h"

namespace sluice::cli {
namespace {

using testing::Harness;

void addPod(Harness& h, const std::string& name, const std::string& function) {
  h.kube->put(
      kube::resources::kPods,
      {{"metadata", {{"name", name}, {"namespace", "team-a"}, {"labels", {{"sluice.io/function", function}}}}}});
}

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    addPod(h, "hello-0", "hello");
    addPod(h, "hello-1", "hello");
    addPod(h, "other-0", "other");
    h.transport->logs["/api/v1/namespaces/team-a/pods/hello-0/log?container=runtime&tailLines=100"] =
        "start\nrequest r-1 failed: ValueError\n";
    h.transport->logs["/api/v1/namespaces/team-a/pods/hello-1/log?container=runtime&tailLines=100"] = "ready\r\n";
  }
  Harness h;
};

TEST_F(LogsTest, EveryReplicaPodWithItsName) {
  EXPECT_EQ(h.run({"logs", "hello"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.out.str(), "[hello-0] start\n[hello-0] request r-1 failed: ValueError\n[hello-1] ready\n");
  testing::expectGolden("logs.txt", h.out.str());
  EXPECT_EQ(h.transport->requests.size(), 2u);  // not other-0's
  EXPECT_EQ(h.run({"logs", "hello", "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("logs.json", h.out.str());
}

TEST_F(LogsTest, RequestIdFilterAndJsonLines) {
  EXPECT_EQ(h.run({"logs", "hello", "--request-id", "r-1", "-o", "json"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.out.str(), "{\"line\":\"request r-1 failed: ValueError\",\"pod\":\"hello-0\"}\n");
  testing::expectGolden("logs-request-id.json", h.out.str());
}

// Follows until stopped: the pods running at the start from their tail, then a replica that starts
// later (a new uid under a reused name) from its first line; a pending pod waits for a later pass.
TEST_F(LogsTest, FollowStreamsEveryPodAndThoseThatStartLater) {
  h.transport->logs["/api/v1/namespaces/team-a/pods/hello-0/log?container=runtime&tailLines=5&follow=true"] = "a\nb\n";
  h.transport->logs["/api/v1/namespaces/team-a/pods/hello-1/log?container=runtime&tailLines=5&follow=true"] = "c\n";
  h.transport->logs["/api/v1/namespaces/team-a/pods/hello-2/log?container=runtime&follow=true"] = "d\n";
  h.kube->put(kube::resources::kPods, {{"metadata",
                                        {{"name", "hello-2"},
                                         {"namespace", "team-a"},
                                         {"uid", "pending"},
                                         {"labels", {{"sluice.io/function", "hello"}}}}},
                                       {"status", {{"phase", "Pending"}}}});
  std::stop_source stop;
  LogsOptions options;
  options.follow = true;
  options.tailLines = 5;
  options.rescan = std::chrono::milliseconds(10);
  options.stop = stop.get_token();
  std::mutex mu;
  std::vector<std::string> lines;
  auto onLine = [&](const std::string& pod, const std::string& line) {
    std::lock_guard lock(mu);
    lines.push_back(pod + " " + line);
    if (lines.size() == 3) {
      // The pending replica starts running.
      h.kube->put(kube::resources::kPods, {{"metadata",
                                            {{"name", "hello-2"},
                                             {"namespace", "team-a"},
                                             {"uid", "running"},
                                             {"labels", {{"sluice.io/function", "hello"}}}}},
                                           {"status", {{"phase", "Running"}}}});
    }
    if (lines.size() == 4) stop.request_stop();
  };
  std::vector<std::string> errors;
  EXPECT_TRUE(functionLogs(*h.kube, *h.transport, "team-a", "hello", options, onLine, [&](const Status& s) {
                errors.push_back(s.message());
              }).isOk());
  ASSERT_EQ(lines.size(), 4u);
  // Interleaving between pods is the streams'; each pod's own order is kept.
  auto at = [&](const std::string& line) { return std::find(lines.begin(), lines.end(), line) - lines.begin(); };
  EXPECT_LT(at("hello-0 a"), at("hello-0 b"));
  EXPECT_LT(at("hello-1 c"), 4);
  EXPECT_EQ(lines.back(), "hello-2 d");
  EXPECT_TRUE(errors.empty()) << errors.front();
}

TEST_F(LogsTest, NoPodOrAnUnreadableLogIsExitOne) {
  EXPECT_EQ(h.run({"logs", "nobody"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice logs: Function team-a/nobody has no replica pod\n");
  EXPECT_EQ(h.run({"logs", "hello", "--tail", "7"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice logs: pod hello-0: HTTP 404 NotFound: no log\n");
  EXPECT_EQ(h.run({"logs", "hello", "-o", "yaml"}), kExitUsage);
}

}  // namespace
}  // namespace sluice::cli
