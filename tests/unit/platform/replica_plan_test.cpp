#include "platform/replica_plan.h"

#include <gtest/gtest.h>

namespace sluice::platform {
namespace {

using std::chrono::seconds;
const auto kT0 = std::chrono::system_clock::time_point{} + std::chrono::hours(1000);

ReplicaPod pod(std::string name, std::string hash = "h1", bool ready = true) {
  ReplicaPod p;
  p.name = std::move(name);
  p.templateHash = std::move(hash);
  p.scheduled = true;
  p.ready = ready;
  p.created = kT0;
  return p;
}

std::vector<std::string> names(const ReplicaPlan& plan) {
  std::vector<std::string> out;
  for (const auto& r : plan.remove) out.push_back(r.name);
  return out;
}

TEST(ReplicaPlanTest, ScaleFromZeroAdoptsWarmPodsFirst) {
  ReplicaPlan plan = planReplicas({.desired = 5, .currentTemplateHash = "h1", .pods = {}, .warmAvailable = 2});
  EXPECT_EQ(plan.adopt, 2);
  EXPECT_EQ(plan.create, 3);
  EXPECT_TRUE(plan.remove.empty());
}

TEST(ReplicaPlanTest, AtDesiredWithCurrentTemplateDoesNothing) {
  ReplicaPlan plan = planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), pod("b")}});
  EXPECT_EQ(plan.adopt + plan.create, 0);
  EXPECT_TRUE(plan.remove.empty());
  EXPECT_FALSE(plan.rolloutWaiting);
}

TEST(ReplicaPlanTest, ScaleDownRemovesUnscheduledThenNotReadyThenIdlest) {
  ReplicaPod busy = pod("busy");
  busy.inFlight = 7;
  ReplicaPod idle = pod("idle");
  idle.inFlight = 0;
  ReplicaPod notReady = pod("not-ready", "h1", false);
  ReplicaPod pending = pod("pending", "h1", false);
  pending.scheduled = false;
  ReplicaPlan plan = planReplicas({.desired = 1, .currentTemplateHash = "h1", .pods = {busy, idle, notReady, pending}});
  EXPECT_EQ(names(plan), (std::vector<std::string>{"pending", "not-ready", "idle"}));
  for (const auto& r : plan.remove) EXPECT_EQ(r.reason, RemovalReason::kScaleDown);
  EXPECT_EQ(plan.create, 0);
}

TEST(ReplicaPlanTest, AmongEquallyIdlePodsTheNewestGoesFirst) {
  ReplicaPod older = pod("older");
  ReplicaPod newer = pod("newer");
  newer.created = kT0 + seconds(30);
  ReplicaPlan plan = planReplicas({.desired = 1, .currentTemplateHash = "h1", .pods = {older, newer}});
  EXPECT_EQ(names(plan), std::vector<std::string>{"newer"});
}

TEST(ReplicaPlanTest, ScaleToZeroRemovesEverythingEvenOutdated) {
  ReplicaPlan plan = planReplicas({.desired = 0, .currentTemplateHash = "h2", .pods = {pod("a", "h1")}});
  EXPECT_EQ(names(plan), std::vector<std::string>{"a"});
}

TEST(ReplicaPlanTest, FailedPodsAreDeletedAndReplaced) {
  ReplicaPod evicted = pod("evicted", "h1", false);
  evicted.failed = true;
  ReplicaPlan plan = planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), evicted}});
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0], (PodRemoval{"evicted", RemovalReason::kFailed}));
  EXPECT_EQ(plan.create, 1);
}

TEST(ReplicaPlanTest, TerminatingPodsAreNotCountedNorRemovedAgain) {
  ReplicaPod leaving = pod("leaving");
  leaving.terminating = true;
  ReplicaPlan plan = planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), leaving}});
  EXPECT_EQ(plan.create, 1);
  EXPECT_TRUE(plan.remove.empty());
}

// A spec change walks through surge 1 / unavailable 0, one pod at a time.
TEST(ReplicaPlanTest, SpecChangeReplacesOnePodAtATime) {
  // Step 1: two outdated pods at desired 2 -> one surge pod.
  ReplicaPlan step1 =
      planReplicas({.desired = 2, .currentTemplateHash = "h2", .pods = {pod("old-a", "h1"), pod("old-b", "h1")}});
  EXPECT_EQ(step1.create, 1);
  EXPECT_TRUE(step1.remove.empty());

  // Step 2: the surge pod exists but is not ready -> wait, remove nothing.
  ReplicaPlan step2 = planReplicas({.desired = 2,
                                    .currentTemplateHash = "h2",
                                    .pods = {pod("old-a", "h1"), pod("old-b", "h1"), pod("new-1", "h2", false)}});
  EXPECT_EQ(step2.create + step2.adopt, 0);
  EXPECT_TRUE(step2.remove.empty());
  EXPECT_TRUE(step2.rolloutWaiting);

  // Step 3: the surge pod is ready -> exactly one outdated pod is replaced.
  ReplicaPod busyOld = pod("old-a", "h1");
  busyOld.inFlight = 3;
  ReplicaPlan step3 = planReplicas(
      {.desired = 2, .currentTemplateHash = "h2", .pods = {busyOld, pod("old-b", "h1"), pod("new-1", "h2")}});
  ASSERT_EQ(step3.remove.size(), 1u);
  EXPECT_EQ(step3.remove[0], (PodRemoval{"old-b", RemovalReason::kReplaced}));
  EXPECT_EQ(step3.create, 0);

  // Step 4: back at desired with one outdated pod left -> surge again.
  ReplicaPlan step4 = planReplicas({.desired = 2, .currentTemplateHash = "h2", .pods = {busyOld, pod("new-1", "h2")}});
  EXPECT_EQ(step4.create, 1);

  // Done: all up to date.
  ReplicaPlan done =
      planReplicas({.desired = 2, .currentTemplateHash = "h2", .pods = {pod("new-1", "h2"), pod("new-2", "h2")}});
  EXPECT_EQ(done.create + done.adopt, 0);
  EXPECT_TRUE(done.remove.empty());
}

TEST(ReplicaPlanTest, APodWithStaleCredentialsIsReplacedAsAnOutdatedOneIs) {
  ReplicaPod stale = pod("stale");
  stale.stale = true;
  ReplicaPlan surge = planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), stale}});
  EXPECT_EQ(surge.create, 1) << "one fresh pod first";
  EXPECT_TRUE(surge.remove.empty());

  ReplicaPlan waiting =
      planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), stale, pod("new", "h1", false)}});
  EXPECT_TRUE(waiting.rolloutWaiting) << "until the fresh pod is ready";
  EXPECT_TRUE(waiting.remove.empty());

  ReplicaPlan swap = planReplicas({.desired = 2, .currentTemplateHash = "h1", .pods = {pod("a"), stale, pod("new")}});
  ASSERT_EQ(swap.remove.size(), 1u);
  EXPECT_EQ(swap.remove[0], (PodRemoval{"stale", RemovalReason::kReplaced}));
  EXPECT_EQ(swap.create + swap.adopt, 0);
}

TEST(ReplicaPlanTest, ScaleDownDuringRolloutPrefersOutdatedPods) {
  ReplicaPlan plan =
      planReplicas({.desired = 1,
                    .currentTemplateHash = "h2",
                    .pods = {pod("new-1", "h2"), pod("old-a", "h1"), pod("old-b", "h1"), pod("new-2", "h2")}});
  ASSERT_EQ(plan.remove.size(), 3u);
  EXPECT_EQ(plan.remove[0].name.substr(0, 3), "old");
  EXPECT_EQ(plan.remove[1].name.substr(0, 3), "old");
}

TEST(ReplicaPlanTest, NegativeDesiredIsTreatedAsZero) {
  ReplicaPlan plan = planReplicas({.desired = -3, .currentTemplateHash = "h1", .pods = {pod("a")}});
  EXPECT_EQ(names(plan), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace sluice::platform
