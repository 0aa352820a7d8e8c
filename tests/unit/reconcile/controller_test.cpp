#include "reconcile/controller.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;

// Returns scripted results per key and counts calls.
class ScriptedReconciler : public Reconciler {
 public:
  ReconcileResult reconcile(const std::string& key) override {
    std::lock_guard lock(mu_);
    int call = calls_[key]++;
    auto& script = scripts_[key];
    if (call < static_cast<int>(script.size())) return script[call];
    return ReconcileResult::done();
  }
  void script(const std::string& key, std::vector<ReconcileResult> results) {
    std::lock_guard lock(mu_);
    scripts_[key] = std::move(results);
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return calls_[key];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<ReconcileResult>> scripts_;
  std::map<std::string, int> calls_;
};

bool waitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 2000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

class ControllerTest : public ::testing::Test {
 protected:
  void start() {
    runner_ = std::jthread([this](std::stop_token stop) { controller_.run(stop); });
  }
  void TearDown() override {
    runner_.request_stop();
    if (runner_.joinable()) runner_.join();
  }

  FakeClock clock_;
  ScriptedReconciler reconciler_;
  Controller controller_{ControllerOptions{"test", 2}, reconciler_, clock_};
  std::jthread runner_;
};

TEST_F(ControllerTest, ErrorsAreRetriedWithBackoffUntilSuccess) {
  reconciler_.script("ns/a",
                     {ReconcileResult::error(unavailable("boom")), ReconcileResult::error(unavailable("boom"))});
  start();
  controller_.enqueue("ns/a");
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/a") == 1; }));
  clock_.waitForSleepers(1);
  clock_.advance(5ms);  // first backoff
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/a") == 2; }));
  clock_.waitForSleepers(1);
  clock_.advance(9ms);  // second backoff is 10 ms: not yet
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.calls("ns/a"), 2);
  clock_.advance(1ms);
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/a") == 3; }));
  ASSERT_TRUE(waitFor([&] { return controller_.queue().numRequeues("ns/a") == 0; }));  // success forgets
}

TEST_F(ControllerTest, TerminalErrorIsNotRetried) {
  reconciler_.script("ns/bad", {ReconcileResult::terminalError(invalidArgument("spec.replicas: must be >= 0"))});
  start();
  controller_.enqueue("ns/bad");
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/bad") == 1; }));
  clock_.advance(2000s);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(reconciler_.calls("ns/bad"), 1);
  EXPECT_EQ(controller_.queue().delayedLength(), 0u);
}

TEST_F(ControllerTest, RequeueAfterComesBackAfterTheDelay) {
  reconciler_.script("ns/w", {ReconcileResult::requeueAfter(30s)});
  start();
  controller_.enqueue("ns/w");
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/w") == 1; }));
  clock_.waitForSleepers(1);
  clock_.advance(29s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.calls("ns/w"), 1);
  clock_.advance(1s);
  ASSERT_TRUE(waitFor([&] { return reconciler_.calls("ns/w") == 2; }));
}

TEST(ControllerHelpersTest, GenerationChangedAndControllerOwner) {
  Json v1 = {{"metadata", {{"generation", 1}}}};
  Json v1b = {{"metadata", {{"generation", 1}, {"resourceVersion", "9"}}}};
  Json v2 = {{"metadata", {{"generation", 2}}}};
  EXPECT_FALSE(generationChanged(v1, v1b));
  EXPECT_TRUE(generationChanged(v1, v2));

  Json pod = {{"metadata",
               {{"namespace", "team"},
                {"ownerReferences", Json::array({{{"kind", "ReplicaSet"}, {"name", "rs"}, {"controller", false}},
                                                 {{"kind", "Function"}, {"name", "fn"}, {"controller", true}}})}}}};
  EXPECT_EQ(controllerOwnerKey(pod, "Function"), "team/fn");
  EXPECT_EQ(controllerOwnerKey(pod, "ReplicaSet"), "");  // not the controlling owner
  EXPECT_EQ(controllerOwnerKey(Json::object(), "Function"), "");
}

}  // namespace
}  // namespace sluice::reconcile
