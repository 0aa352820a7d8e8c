// What a Controller and its WorkQueue report through ControllerMetrics.
#include "reconcile/controller_metrics.h"

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "reconcile/controller.h"
#include "reconcile/work_queue.h"
#include "fakes/fake_clock.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

class RecordingMetrics : public ControllerMetrics {
 public:
  void registerController(const std::string& name) override {
    std::lock_guard lock(mu_);
    registered_.push_back(name);
  }
  void queueAdded(const std::string& name) override {
    std::lock_guard lock(mu_);
    ++adds_[name];
  }
  void queueDepth(const std::string& name, size_t depth) override {
    std::lock_guard lock(mu_);
    depth_[name] = depth;
  }
  void queueRetried(const std::string& name) override {
    std::lock_guard lock(mu_);
    ++retries_[name];
  }
  void reconciled(const std::string& name, const char* result, double) override {
    std::lock_guard lock(mu_);
    results_[name].push_back(result);
  }
  std::vector<std::string> registered() {
    std::lock_guard lock(mu_);
    return registered_;
  }
  int adds(const std::string& name) {
    std::lock_guard lock(mu_);
    return adds_[name];
  }
  size_t depth(const std::string& name) {
    std::lock_guard lock(mu_);
    return depth_[name];
  }
  int retries(const std::string& name) {
    std::lock_guard lock(mu_);
    return retries_[name];
  }
  std::vector<std::string> results(const std::string& name) {
    std::lock_guard lock(mu_);
    return results_[name];
  }

 private:
  std::mutex mu_;
  std::vector<std::string> registered_;
  std::map<std::string, int> adds_;
  std::map<std::string, size_t> depth_;
  std::map<std::string, int> retries_;
  std::map<std::string, std::vector<std::string>> results_;
};

TEST(WorkQueueMetricsTest, AddsDepthAndRetries) {
  FakeClock clock;
  RecordingMetrics metrics;
  WorkQueue queue(clock);
  queue.setMetrics(&metrics, "q");
  EXPECT_EQ(metrics.registered(), std::vector<std::string>{"q"});
  queue.add("a");
  queue.add("a");  // waiting already: not an add
  queue.add("b");
  EXPECT_EQ(metrics.adds("q"), 2);
  EXPECT_EQ(metrics.depth("q"), 2u);
  auto key = queue.get();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(metrics.depth("q"), 1u);
  queue.addRateLimited(*key);
  EXPECT_EQ(metrics.retries("q"), 1);
  queue.done(*key);
}

class OneFailure : public Reconciler {
 public:
  ReconcileResult reconcile(const std::string&) override {
    return calls_++ == 0 ? ReconcileResult::error(unavailable("apiserver down")) : ReconcileResult::done();
  }

 private:
  std::atomic<int> calls_{0};
};

TEST(ControllerMetricsTest, EachReconcileIsReportedWithItsResult) {
  FakeClock clock;
  RecordingMetrics metrics;
  OneFailure reconciler;
  Controller controller(ControllerOptions{"fn", 1, &metrics}, reconciler, clock);
  std::jthread runner([&](std::stop_token stop) { controller.run(stop); });
  controller.enqueue("ns/a");
  for (int i = 0; i < 2000 && metrics.results("fn").empty(); ++i) std::this_thread::sleep_for(1ms);
  clock.waitForSleepers(1);
  clock.advance(5ms);  // the first backoff
  for (int i = 0; i < 2000 && metrics.results("fn").size() < 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(metrics.results("fn"), (std::vector<std::string>{kReconcileError, kReconcileSuccess}));
  EXPECT_EQ(metrics.retries("fn"), 1);
  EXPECT_EQ(metrics.adds("fn"), 2);  // the enqueue and the retry
  runner.request_stop();
}

TEST(ControllerMetricsTest, ResultLabels) {
  EXPECT_STREQ(reconcileResultLabel(ReconcileResult::done()), "success");
  EXPECT_STREQ(reconcileResultLabel(ReconcileResult::requeue()), "requeue");
  EXPECT_STREQ(reconcileResultLabel(ReconcileResult::requeueAfter(1s)), "requeue_after");
  EXPECT_STREQ(reconcileResultLabel(ReconcileResult::error(unavailable("x"))), "error");
  EXPECT_STREQ(reconcileResultLabel(ReconcileResult::terminalError(invalidArgument("x"))), "terminal_error");
}

}  // namespace
}  // namespace sluice::reconcile
