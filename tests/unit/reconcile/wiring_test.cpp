// Controller and Manager wiring over informers on the in-memory
// FakeResourceClient: workers start only after the caches sync, an owned
// object's change reconciles its owner (and lowers its expectations), the
// generation predicate filters status writes and resyncs, and a Manager runs
// controllers only while it holds the Lease.
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "reconcile/controller.h"
#include "reconcile/manager.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;
using testing::FakeResourceClient;

const kube::ResourceType kFunctions{"sluice.io", "v1alpha1", "functions", "Function", true};

class CountingReconciler : public Reconciler {
 public:
  ReconcileResult reconcile(const std::string& key) override {
    std::lock_guard lock(mu_);
    ++calls_[key];
    return ReconcileResult::done();
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return calls_[key];
  }
  int total() {
    std::lock_guard lock(mu_);
    int sum = 0;
    for (auto& [key, n] : calls_) sum += n;
    return sum;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

bool waitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

Json function(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "ns"}}}, {"spec", {{"replicas", 1}}}};
}

Json podOf(const std::string& name, const Json& owner) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"ownerReferences", Json::array({{{"apiVersion", "sluice.io/v1alpha1"},
                                              {"kind", "Function"},
                                              {"name", owner["metadata"]["name"]},
                                              {"uid", owner["metadata"]["uid"]},
                                              {"controller", true}}})}}},
          {"spec", Json::object()}};
}

class WiringTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  FakeResourceClient fake_{clock_};
  CountingReconciler reconciler_;
};

TEST_F(WiringTest, WorkersStartOnlyAfterEveryInformerHasSynced) {
  ASSERT_TRUE(fake_.create(kFunctions, "ns", function("f")));
  fake_.failNext("list", unavailable("apiserver starting"), 1, "pods");
  kube::InformerOptions options;
  options.ns = "ns";
  kube::Informer functions(fake_, kFunctions, options, clock_);
  kube::Informer pods(fake_, kube::resources::kPods, options, clock_);
  Controller controller({"fn", 2}, reconciler_, clock_);
  controller.watchFor(functions, generationChanged);
  controller.watchOwned(pods, "Function");
  functions.start();
  pods.start();
  std::jthread runner([&](std::stop_token stop) { controller.run(stop); });

  std::stop_source never;
  ASSERT_TRUE(functions.waitForSync(never.get_token()));
  clock_.waitForSleepers(1);  // the pod informer backs off after its failed list
  controller.enqueue("ns/manual");
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.total(), 0) << "no reconcile while the pod cache is not synced";

  clock_.advance(500ms);
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/f") == 1 && reconciler_.calls("ns/manual") == 1; }));
  runner.request_stop();
  runner.join();
  pods.stop();
  functions.stop();
}

TEST_F(WiringTest, OwnedObjectsReconcileTheirOwnerAndTheGenerationPredicateSkipsStatusWrites) {
  auto f = fake_.create(kFunctions, "ns", function("f"));
  ASSERT_TRUE(f);
  kube::InformerOptions options;
  options.ns = "ns";
  kube::Informer functions(fake_, kFunctions, options, clock_);
  kube::Informer pods(fake_, kube::resources::kPods, options, clock_);
  Expectations expectations(clock_);
  Controller controller({"fn", 2}, reconciler_, clock_);
  controller.watchFor(functions, generationChanged);
  controller.watchOwned(pods, "Function", &expectations);
  functions.start();
  pods.start();
  std::jthread runner([&](std::stop_token stop) { controller.run(stop); });
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/f") == 1; }));

  // The reconcile expects two pods; the watch delivering them satisfies the expectation.
  expectations.expectCreations("ns/f", 2);
  ASSERT_TRUE(fake_.create(kube::resources::kPods, "ns", podOf("f-1", *f)));
  ASSERT_TRUE(fake_.create(kube::resources::kPods, "ns", podOf("f-2", *f)));
  ASSERT_TRUE(fake_.create(kube::resources::kPods, "ns", {{"metadata", {{"name", "stray"}}}}));
  ASSERT_TRUE(waitFor([&] { return expectations.satisfied("ns/f"); }));
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/f") >= 2; }));
  EXPECT_EQ(reconciler_.calls("ns/stray"), 0);
  ASSERT_TRUE(fake_.remove(kube::resources::kPods, "ns", "f-1").isOk());
  ASSERT_TRUE(waitFor([&] { return fake_.objects(kube::resources::kPods, "ns").size() == 2; }));

  // Quiet: let the queue drain, then count from here.
  ASSERT_TRUE(waitFor([&] { return controller.queue().length() == 0; }));
  int before = reconciler_.calls("ns/f");
  for (int settled = 0; settled < 10; ++settled) {  // no change for 10 x 10 ms: nothing in flight
    std::this_thread::sleep_for(10ms);
    int now = reconciler_.calls("ns/f");
    if (now != before) settled = -1;
    before = now;
  }

  // A status write does not change the generation: filtered out.
  Json withStatus = *fake_.object(kFunctions, "ns", "f");
  withStatus["status"] = {{"readyReplicas", 1}};
  ASSERT_TRUE(fake_.updateStatus(kFunctions, withStatus));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.calls("ns/f"), before);

  // A spec change does.
  ASSERT_TRUE(fake_.patch(kFunctions, "ns", "f", kube::PatchType::kMerge, {{"spec", {{"replicas", 3}}}}));
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/f") == before + 1; }));

  runner.request_stop();
  runner.join();
  pods.stop();
  functions.stop();
}

TEST_F(WiringTest, AMappedWatchWithAnUpdatePredicateSkipsTheUpdatesItRejects) {
  // As the Trigger controller watches Functions: a Function appearing or going concerns
  // its Triggers (here "ns/t-<function>"), its updates do not.
  kube::InformerOptions options;
  options.ns = "ns";
  kube::Informer functions(fake_, kFunctions, options, clock_);
  Controller controller({"mapped", 1}, reconciler_, clock_);
  controller.watchMapped(
      functions,
      [](const Json& f) { return std::vector<std::string>{"ns/t-" + f["metadata"]["name"].get<std::string>()}; },
      [](const Json&, const Json&) { return false; });
  functions.start();
  std::jthread runner([&](std::stop_token stop) { controller.run(stop); });
  ASSERT_TRUE(fake_.create(kFunctions, "ns", function("f")));
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/t-f") == 1; }));

  Json withStatus = *fake_.object(kFunctions, "ns", "f");
  withStatus["status"] = {{"readyReplicas", 1}};
  ASSERT_TRUE(fake_.updateStatus(kFunctions, withStatus));
  ASSERT_TRUE(fake_.patch(kFunctions, "ns", "f", kube::PatchType::kMerge, {{"spec", {{"replicas", 3}}}}));
  // The informer hands events over in order: once g's creation is reconciled, f's two
  // updates have been seen (and dropped).
  ASSERT_TRUE(fake_.create(kFunctions, "ns", function("g")));
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/t-g") == 1; }));
  ASSERT_TRUE(waitFor([&] { return controller.queue().length() == 0; }));
  EXPECT_EQ(reconciler_.calls("ns/t-f"), 1);

  ASSERT_TRUE(fake_.remove(kFunctions, "ns", "f").isOk());
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/t-f") == 2; }));

  runner.request_stop();
  runner.join();
  functions.stop();
}

TEST_F(WiringTest, AStandbyManagerKeepsItsCachesWarmButRunsNoControllerUntilItLeads) {
  fake_.put(kube::resources::kLeases, {{"metadata", {{"name", "lease"}, {"namespace", "ns"}}},
                                       {"spec", {{"holderIdentity", "other"}, {"leaseDurationSeconds", 15}}}});
  ASSERT_TRUE(fake_.create(kFunctions, "ns", function("f")));
  ManagerOptions options;
  options.leaderElection = LeaderElectionConfig{"ns", "lease", "me"};
  Manager manager(fake_, clock_, options);
  auto& functions = manager.informer(kFunctions, "ns");
  auto controller = std::make_unique<Controller>(ControllerOptions{"fn", 1}, reconciler_, clock_);
  controller->watchFor(functions, generationChanged);
  manager.add(std::move(controller));
  std::jthread runner([&](std::stop_token stop) { EXPECT_EQ(manager.run(stop), 0); });

  std::stop_source never;
  ASSERT_TRUE(functions.waitForSync(never.get_token()));
  EXPECT_EQ(functions.cache().size(), 1u);
  clock_.waitForSleepers(1);  // the elector waits for its next retry
  EXPECT_FALSE(manager.isLeader());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.total(), 0);

  // The other holder releases the Lease: this manager leads at its next retry and reconciles.
  Json released = *fake_.object(kube::resources::kLeases, "ns", "lease");
  released["spec"]["holderIdentity"] = "";
  fake_.put(kube::resources::kLeases, released);
  clock_.advance(2s);
  ASSERT_TRUE(waitFor([&] { return manager.isLeader(); }));
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/f") == 1; }));

  runner.request_stop();
  runner.join();
  EXPECT_FALSE(manager.isLeader());
  EXPECT_EQ((*fake_.object(kube::resources::kLeases, "ns", "lease"))["spec"]["holderIdentity"], "")
      << "released on a graceful stop";
}

// A reconcile stuck in a wait that only the apiserver client's stop ends (its
// throttle and retry waits): onStoppedLeading ends it, so stopping the Manager
// does not wait out the delay.
class ClientWaitReconciler : public Reconciler {
 public:
  explicit ClientWaitReconciler(std::stop_token clientStop) : clientStop_(std::move(clientStop)) {}
  ReconcileResult reconcile(const std::string&) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, clientStop_, [] { return false; });
    return ReconcileResult::done();
  }
  bool waitUntilEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return entered_; });
  }

 private:
  std::stop_token clientStop_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool entered_ = false;
};

TEST_F(WiringTest, OnStoppedLeadingEndsClientWaitsBeforeTheControllersAreJoined) {
  std::stop_source clientWaits;
  ClientWaitReconciler reconciler(clientWaits.get_token());
  ManagerOptions options;
  options.onStoppedLeading = [&clientWaits] { clientWaits.request_stop(); };
  ASSERT_TRUE(fake_.create(kFunctions, "ns", function("f")));
  Manager manager(fake_, clock_, options);
  auto controller = std::make_unique<Controller>(ControllerOptions{"fn", 1}, reconciler, clock_);
  controller->watchFor(manager.informer(kFunctions, "ns"), generationChanged);
  manager.add(std::move(controller));
  std::jthread runner([&](std::stop_token stop) { EXPECT_EQ(manager.run(stop), 0); });
  ASSERT_TRUE(reconciler.waitUntilEntered());
  EXPECT_FALSE(clientWaits.stop_requested());
  runner.request_stop();
  runner.join();  // without the hook, this join would wait for ever
  EXPECT_TRUE(clientWaits.stop_requested());
}

}  // namespace
}  // namespace sluice::reconcile
