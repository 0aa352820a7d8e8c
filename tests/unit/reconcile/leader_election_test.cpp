// LeaderElector over the in-memory FakeResourceClient on a fake clock: the
// Lease rules with exact timings (the integration test shows the same with
// real processes and a real apiserver, without timing assertions).
#include "reconcile/leader_election.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;
using testing::FakeResourceClient;

bool waitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

// One candidate running LeaderElector::run on its own thread.
class Candidate {
 public:
  Candidate(FakeResourceClient& fake, FakeClock& clock, const std::string& identity)
      : elector_(fake, LeaderElectionConfig{"ns", "lease", identity}, clock) {}
  ~Candidate() { stop(); }

  void start() {
    thread_ = std::jthread([this](std::stop_token stop) {
      led_ = elector_.run(stop, [this](std::stop_token leadership) {
        std::mutex mu;
        std::condition_variable_any cv;
        std::unique_lock lock(mu);
        cv.wait(lock, leadership, [] { return false; });
        leadershipEnded_ = true;
      });
      returned_ = true;
    });
  }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

  bool isLeader() const { return elector_.isLeader(); }
  bool leadershipEnded() const { return leadershipEnded_.load(); }
  bool returned() const { return returned_.load(); }
  bool led() const { return led_.load(); }

 private:
  LeaderElector elector_;
  std::atomic<bool> leadershipEnded_{false};
  std::atomic<bool> returned_{false};
  std::atomic<bool> led_{false};
  std::jthread thread_;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  // Moves time one retry period (2 s) and waits until each of the `candidates`
  // running candidates has made its attempt and is waiting again.
  void step(int candidates) {
    int before = fake_.callCount("get", "leases");
    clock_.advance(2s);
    ASSERT_TRUE(waitFor([&] { return fake_.callCount("get", "leases") >= before + candidates; }));
    clock_.waitForSleepers(candidates);
  }
  std::string holder() {
    auto lease = fake_.object(kube::resources::kLeases, "ns", "lease");
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  }

  FakeClock clock_;
  FakeResourceClient fake_{clock_};
};

TEST_F(LeaderElectionTest, OneLeadsTheOtherWaitsWhileItRenewsAndTakesOverAtOnceAfterARelease) {
  Candidate a(fake_, clock_, "a");
  a.start();
  ASSERT_TRUE(waitFor([&] { return a.isLeader(); }));
  clock_.waitForSleepers(1);
  Candidate b(fake_, clock_, "b");
  b.start();
  clock_.waitForSleepers(2);
  for (int i = 0; i < 10; ++i) {  // 20 s: longer than the 15 s lease, but a renews every 2 s
    step(2);
    ASSERT_TRUE(a.isLeader());
    ASSERT_FALSE(b.isLeader()) << "after " << 2 * (i + 1) << " s";
  }
  EXPECT_EQ(holder(), "a");

  a.stop();  // graceful: the Lease is released
  EXPECT_TRUE(a.leadershipEnded());
  EXPECT_TRUE(a.led());
  EXPECT_EQ(holder(), "");
  step(1);
  EXPECT_TRUE(b.isLeader()) << "a released Lease is taken at the next retry";
  EXPECT_EQ(holder(), "b");
}

TEST_F(LeaderElectionTest, AHolderThatStoppedRenewingIsReplacedOnlyAfterTheLeaseDuration) {
  // A holder that crashed (SIGKILL): its Lease stays, never renewed again.
  fake_.put(kube::resources::kLeases, {{"metadata", {{"name", "lease"}, {"namespace", "ns"}}},
                                       {"spec",
                                        {{"holderIdentity", "crashed"},
                                         {"leaseDurationSeconds", 15},
                                         {"renewTime", "2026-11-23T00:00:00.000000Z"},
                                         {"leaseTransitions", 3}}}});
  Candidate b(fake_, clock_, "b");
  b.start();
  clock_.waitForSleepers(1);  // first look at the Lease: the clock starts here
  for (int i = 0; i < 7; ++i) {
    step(1);
    ASSERT_FALSE(b.isLeader()) << "after " << 2 * (i + 1) << " s";
  }
  step(1);  // 16 s >= 15 s
  EXPECT_TRUE(b.isLeader());
  auto lease = fake_.object(kube::resources::kLeases, "ns", "lease");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 4);
}

TEST_F(LeaderElectionTest, ALeaderThatCannotRenewForTheRenewDeadlineStepsDownWithoutReleasing) {
  Candidate a(fake_, clock_, "a");
  a.start();
  ASSERT_TRUE(waitFor([&] { return a.isLeader(); }));
  clock_.waitForSleepers(1);
  fake_.failNext("update", FakeResourceClient::apiStatus(503, "ServiceUnavailable", "etcd unreachable"), 1000,
                 "leases");
  for (int i = 0; i < 4; ++i) {  // 8 s without a renewal: still within the 10 s deadline
    step(1);
    ASSERT_TRUE(a.isLeader()) << "after " << 2 * (i + 1) << " s";
  }
  int before = fake_.callCount("get", "leases");
  clock_.advance(2s);
  ASSERT_TRUE(waitFor([&] { return a.returned(); }));
  EXPECT_EQ(fake_.callCount("get", "leases"), before + 1);
  EXPECT_FALSE(a.isLeader());
  EXPECT_TRUE(a.leadershipEnded());
  EXPECT_EQ(holder(), "a") << "a leader that lost the Lease does not write it again";
  EXPECT_EQ(fake_.callCount("update", "leases"), 5);
}

TEST_F(LeaderElectionTest, TwoCandidatesRacingForANewLeaseElectExactlyOne) {
  Candidate a(fake_, clock_, "a");
  Candidate b(fake_, clock_, "b");
  a.start();
  b.start();
  clock_.waitForSleepers(2);
  EXPECT_NE(a.isLeader(), b.isLeader());
  EXPECT_EQ(holder(), a.isLeader() ? "a" : "b");
  EXPECT_EQ(fake_.objects(kube::resources::kLeases, "ns").size(), 1u);
  for (int i = 0; i < 3; ++i) {
    step(2);
    EXPECT_NE(a.isLeader(), b.isLeader());
  }
}

}  // namespace
}  // namespace sluice::reconcile
