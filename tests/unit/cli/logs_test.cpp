// `sluice logs`: every replica pod of the Function (by its label, container
// runtime, the tail asked for), each line prefixed with its pod, the
// --request-id filter, JSON lines with -o json, followed streams, and exit 1
// naming the Function when it has no pod or a pod's log cannot be read.
#include "cli/logs.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(h.transport->requests.size(), 2u);  // not other-0's
}

TEST_F(LogsTest, RequestIdFilterAndJsonLines) {
  EXPECT_EQ(h.run({"logs", "hello", "--request-id", "r-1", "-o", "json"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.out.str(), "{\"line\":\"request r-1 failed: ValueError\",\"pod\":\"hello-0\"}\n");
}

TEST_F(LogsTest, FollowStreamsEveryPod) {
  h.transport->logs["/api/v1/namespaces/team-a/pods/hello-0/log?container=runtime&tailLines=5&follow=true"] = "a\nb\n";
  h.transport->logs["/api/v1/namespaces/team-a/pods/hello-1/log?container=runtime&tailLines=5&follow=true"] = "c\n";
  EXPECT_EQ(h.run({"logs", "hello", "-f", "--tail", "5"}), kExitOk) << h.err.str();
  const std::string out = h.out.str();
  // Interleaving between pods is the streams'; each pod's own order is kept.
  EXPECT_EQ(out.size(), std::string("[hello-0] a\n[hello-0] b\n[hello-1] c\n").size()) << out;
  EXPECT_LT(out.find("[hello-0] a\n"), out.find("[hello-0] b\n"));
  EXPECT_NE(out.find("[hello-1] c\n"), std::string::npos);
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
