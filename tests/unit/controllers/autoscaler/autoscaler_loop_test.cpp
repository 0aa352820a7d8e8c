// The autoscaler loop as sluice-operator wires it: a Manager with informers on
// the in-memory apiserver, the "autoscaler" controller, scripted scalers and
// the real clock (short activation checks). Outcomes only: the deadlines are
// generous bounds for a loaded machine, not timing goals.
#include "controllers/autoscaler/autoscaler_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_scaler_factory.h"
#include "fakes/fake_resource_client.h"
#include "spec/resources.h"

namespace sluice::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

class AutoscalerLoopTest : public ::testing::Test {
 protected:
  Clock& clock = realClock();
  testing::FakeResourceClient client{clock};
  testing::FakeScalerFactory* factory = nullptr;
  reconcile::Manager manager{client, clock, {}};
  reconcile::EventRecorder events{client, "sluice-operator", clock};
  std::unique_ptr<AutoscalerLoop> loop;
  std::stop_source stop;
  std::jthread running;

  void start(const std::string& ns) {
    auto owned = std::make_unique<testing::FakeScalerFactory>();
    factory = owned.get();
    loop = std::make_unique<AutoscalerLoop>(manager, manager.informer(spec::kFunctions, ns),
                                            manager.informer(spec::kTriggers, ns), events, nullptr, clock,
                                            std::move(owned));
    running = std::jthread([this] { manager.run(stop.get_token()); });
  }
  void TearDown() override {
    if (factory) {
      for (const char* name : {"a-kafka", "b-kafka"}) factory->script(name)->block(false);
    }
    stop.request_stop();
    if (running.joinable()) running.join();
  }
  void createFunction(const std::string& ns, const std::string& name) {
    ASSERT_TRUE(client
                    .create(spec::kFunctions, ns,
                            {{"metadata", {{"name", name}}},
                             {"spec", {{"runtime", "python3.11"}, {"scaling", {{"maxReplicas", 6}}}}}})
                    .isOk());
    ASSERT_TRUE(client
                    .create(spec::kTriggers, ns,
                            {{"metadata", {{"name", name + "-kafka"}}},
                             {"spec", {{"functionRef", {{"name", name}}}, {"kafka", {{"topics", {"t"}}}}}}})
                    .isOk());
  }
  std::optional<int> desired(const std::string& ns, const std::string& name) {
    auto fn = client.object(spec::kFunctions, ns, name);
    if (!fn || !fn->contains(json::json_pointer("/status/desiredReplicas"))) return std::nullopt;
    return (*fn)["status"]["desiredReplicas"].get<int>();
  }
};

TEST_F(AutoscalerLoopTest, ActivatesAndFollowsTheBacklogThroughTheWatch) {
  start("etl");
  createFunction("etl", "a");
  ASSERT_TRUE(eventually([&] { return desired("etl", "a") == 0; })) << "first round never wrote status";
  factory->script("a-kafka")->set(45);
  ASSERT_TRUE(eventually([&] { return desired("etl", "a") == 5; }));
  // Edits arrive through the Trigger informer; a deleted Function stops being measured.
  ASSERT_TRUE(client.remove(spec::kFunctions, "etl", "a").isOk());
  std::this_thread::sleep_for(300ms);
  int reads = factory->script("a-kafka")->reads.load();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(factory->script("a-kafka")->reads.load(), reads);
}

TEST_F(AutoscalerLoopTest, ASlowSourceDoesNotHoldOtherFunctions) {
  start("etl");
  // Function a's source never answers (until the end of the test).
  factory->script("a-kafka")->block(true);
  createFunction("etl", "a");
  createFunction("etl", "b");
  ASSERT_TRUE(eventually([&] { return desired("etl", "b") == 0; }));
  factory->script("b-kafka")->set(25);
  ASSERT_TRUE(eventually([&] { return desired("etl", "b") == 3; }));
  EXPECT_GE(factory->script("b-kafka")->reads.load(), 2);
  EXPECT_EQ(factory->script("a-kafka")->reads.load(), 0);
  EXPECT_FALSE(desired("etl", "a"));
  factory->script("a-kafka")->block(false);
  ASSERT_TRUE(eventually([&] { return desired("etl", "a") == 0; }));
}

TEST_F(AutoscalerLoopTest, WatchesOnlyItsNamespace) {
  start("etl");
  createFunction("other", "a");
  createFunction("etl", "b");
  ASSERT_TRUE(eventually([&] { return desired("etl", "b") == 0; }));
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(desired("other", "a"));
}

}  // namespace
}  // namespace sluice::controllers
