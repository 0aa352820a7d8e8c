// EventRecorder over the in-memory FakeResourceClient with a fake clock:
// identical events aggregate into one Event whose count rises, and the
// per-object spam filter (burst 25, then one per 5 minutes) caps a hot loop.
#include "reconcile/event_recorder.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;
using testing::FakeResourceClient;

class EventRecorderTest : public ::testing::Test {
 protected:
  Json subject(const std::string& name, const std::string& uid) {
    return {{"apiVersion", "sluice.io/v1alpha1"},
            {"kind", "Function"},
            {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", uid}, {"resourceVersion", "7"}}}};
  }
  std::vector<Json> events() { return fake_.objects(kube::resources::kEvents, "ns"); }

  FakeClock clock_;
  FakeResourceClient fake_{clock_};
  EventRecorder recorder_{fake_, "sluice-operator", clock_};
};

TEST_F(EventRecorderTest, AHotLoopOfIdenticalEventsMakesOneEventWithARisingCount) {
  Json fn = subject("fn", "uid-1");
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  ASSERT_EQ(events().size(), 1u);
  Json first = events()[0];
  EXPECT_EQ(first["count"], 1);
  EXPECT_EQ(first["type"], "Warning");
  EXPECT_EQ(first["reason"], "ScaleFailed");
  EXPECT_EQ(first["message"], "no partitions");
  EXPECT_EQ(first["involvedObject"]["uid"], "uid-1");
  EXPECT_EQ(first["involvedObject"]["kind"], "Function");
  EXPECT_EQ(first["source"]["component"], "sluice-operator");

  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0]["count"], 2);

  for (int i = 0; i < 98; ++i) recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  // 100 records: the burst of 25 reaches the API (1 create + 24 count bumps), 75 are dropped.
  auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["count"], 25);
  EXPECT_EQ(all[0]["metadata"]["name"], first["metadata"]["name"]);
  EXPECT_EQ(recorder_.created(), 1);
  EXPECT_EQ(recorder_.aggregated(), 24);
  EXPECT_EQ(recorder_.dropped(), 75);
  EXPECT_EQ(fake_.callCount("create", "events"), 1);
  EXPECT_EQ(fake_.callCount("patch", "events"), 24);

  // One token comes back every 5 minutes.
  clock_.advance(299s);
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  EXPECT_EQ(recorder_.dropped(), 76);
  clock_.advance(2s);
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["count"], 26);
  EXPECT_NE(all[0]["lastTimestamp"], all[0]["firstTimestamp"]);
}

TEST_F(EventRecorderTest, DifferentReasonsMessagesAndObjectsAreSeparateEvents) {
  recorder_.record(subject("fn", "uid-1"), "Normal", "ScaledUp", "1 -> 2");
  recorder_.record(subject("fn", "uid-1"), "Normal", "ScaledUp", "2 -> 3");
  recorder_.record(subject("fn", "uid-1"), "Normal", "Ready", "1 -> 2");
  recorder_.record(subject("other", "uid-2"), "Normal", "ScaledUp", "1 -> 2");
  recorder_.record(subject("fn", "uid-1"), "Normal", "ScaledUp", "1 -> 2");
  auto all = events();
  ASSERT_EQ(all.size(), 4u);
  int counted = 0;
  for (const auto& event : all) counted += event["count"].get<int>();
  EXPECT_EQ(counted, 5);
  EXPECT_EQ(recorder_.created(), 4);
  EXPECT_EQ(recorder_.aggregated(), 1);
}

TEST_F(EventRecorderTest, AnAggregatedEventThatVanishedIsCreatedAgain) {
  Json fn = subject("fn", "uid-1");
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  ASSERT_EQ(events().size(), 1u);
  // Events expire on the apiserver (1 h TTL); the next bump gets 404 and starts a new Event.
  ASSERT_TRUE(fake_.remove(kube::resources::kEvents, "ns", events()[0]["metadata"]["name"]).isOk());
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["count"], 1);
  EXPECT_EQ(recorder_.created(), 2);
  recorder_.record(fn, "Warning", "ScaleFailed", "no partitions");
  EXPECT_EQ(events()[0]["count"], 2);
}

TEST_F(EventRecorderTest, AFailedCreateIsLoggedNotReturnedAndNotRemembered) {
  fake_.failNext("create", FakeResourceClient::apiStatus(403, "Forbidden", "events is forbidden"));
  Json fn = subject("fn", "uid-1");
  recorder_.record(fn, "Normal", "ScaledUp", "1 -> 2");
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(recorder_.created(), 0);
  recorder_.record(fn, "Normal", "ScaledUp", "1 -> 2");
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0]["count"], 1);
}

}  // namespace
}  // namespace sluice::reconcile
