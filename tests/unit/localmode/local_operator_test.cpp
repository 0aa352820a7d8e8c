// --local as sluice-operator wires it: manifests in a directory become
// Functions in the in-memory apiserver, and the same Manager and controllers
// as on Kubernetes run them on the LocalPlatform (fake processes here), scaled
// by the same autoscaler; a broken file is reported with file, line and field
// and leaves every other Function running. Time is a FakeClock the test moves
// in small steps while the controllers' threads catch up; the step counts are
// generous bounds for a loaded machine, not timing goals.
#include "localmode/local_operator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/time.h"
#include "reconcile/event_recorder.h"
#include "reconcile/expectations.h"
#include "fakes/fake_clock.h"
#include "platform/kube/control_token.h"
#include "spec/resources.h"

namespace sluice::localmode {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class NoProcesses final : public platform::ProcessRunner {
 public:
  Result<int> spawn(const std::vector<std::string>& argv, const Environment&) override {
    std::lock_guard lock(mu);
    argvs.push_back(argv);
    return next++;
  }
  void signal(int pid, int) override {
    std::lock_guard lock(mu);
    exits.emplace_back(pid, 0);
  }
  std::vector<std::pair<int, int>> reapExited() override {
    std::lock_guard lock(mu);
    return std::exchange(exits, {});
  }
  int freePort() override { return 1; }
  std::mutex mu;
  int next = 10;
  std::vector<std::vector<std::string>> argvs;
  std::vector<std::pair<int, int>> exits;
};

class AlwaysReady final : public platform::RuntimeEndpoint {
 public:
  bool ready(int) override { return true; }
  Status specialize(int, const std::string&, const std::string&) override { return Status::ok(); }
  Status invoke(int port, const std::string& trigger, const std::string& eventType, const std::string&) override {
    std::lock_guard lock(mu);
    invoked.push_back(std::to_string(port) + " " + trigger + " " + eventType);
    return Status::ok();
  }
  std::vector<std::string> invocations() {
    std::lock_guard lock(mu);
    return invoked;
  }
  std::mutex mu;
  std::vector<std::string> invoked;
};

std::string functionYaml(const std::string& name, const std::string& input, int maxReplicas) {
  return "apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata:\n  name: " + name +
         "\nspec:\n  runtime: builtin\n  pipeline:\n    - decompress: {format: gzip}\n  outputs:\n    - dir: {path: " +
         input + "-out}\n  scaling:\n    maxReplicas: " + std::to_string(maxReplicas) +
         "\n    pollingIntervalSeconds: 1\n---\napiVersion: sluice.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: " +
         name + "-files\nspec:\n  functionRef: {name: " + name +
         "}\n  objectStore:\n    type: dir\n    path: " + input + "\n    targetObjectCount: 2\n";
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  fs::rename(path + ".tmp", path);
}

LocalOperatorOptions optionsFor(const std::string& dir) {
  LocalOperatorOptions options;
  options.dir = dir;
  return options;
}

// What runLocal in cmd/operator_main.cpp builds, over fake processes and a FakeClock.
struct LocalSystem {
  LocalSystem(testing::FakeClock& clock, const platform::LocalPlatformOptions& platformOptions,
              platform::ProcessRunner& processes, platform::RuntimeEndpoint& endpoint, const std::string& dir)
      : store(clock),
        platform(platformOptions, processes, endpoint, clock, nullptr, &store),
        manager(store, clock, {}),
        expectations(clock),
        events(store, "test", clock),
        tokens(store, {}, clock),
        controllers(manager, controllers::ControllersOptions{}, {platform, expectations, events, tokens}, clock),
        local(optionsFor(dir), store, manager, controllers, platform, clock) {
    running = std::jthread([this] { manager.run(stop.get_token()); });
  }
  ~LocalSystem() {
    stop.request_stop();
    running.join();
  }

  kube::InMemoryResourceClient store;
  platform::LocalPlatform platform;
  reconcile::Manager manager;
  reconcile::Expectations expectations;
  reconcile::EventRecorder events;
  platform::ControlTokens tokens;
  controllers::Controllers controllers;
  LocalOperator local;
  std::stop_source stop;
  std::jthread running;
};

class LocalOperatorTest : public ::testing::Test {
 protected:
  // Each test its own directory: ctest runs them as parallel processes.
  LocalOperatorTest()
      : root(::testing::TempDir() + "/local-operator-test-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    fs::remove_all(root);
    fs::create_directories(root + "/manifests");
    fs::create_directories(root + "/in-a");
    fs::create_directories(root + "/in-b");
    options.runtimeBinary = "/bin/sluice-runtime";
    options.stateDir = root + "/state";
    options.warmPoolSize = 0;
  }

  // Rounds of `step` fake time (each with a little real time for the
  // controllers' threads) until `done`, at most `steps`; whether it got there.
  bool advanceUntil(LocalSystem& system, testing::FakeClock& clock, const std::function<bool()>& done,
                    std::chrono::milliseconds step, int steps) {
    for (int i = 0; i < steps; ++i) {
      if (done()) return true;
      system.local.round();
      clock.advance(step);
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  std::string root;
  platform::LocalPlatformOptions options;
  NoProcesses processes;
  AlwaysReady endpoint;
};

TEST_F(LocalOperatorTest, ScalesByObjectCountAndABrokenFileLeavesTheOthersRunning) {
  write(root + "/manifests/a.yaml", functionYaml("a", root + "/in-a", 3));
  write(root + "/manifests/b.yaml", functionYaml("b", root + "/in-b", 3));
  for (int i = 0; i < 4; ++i) write(root + "/in-a/f" + std::to_string(i), "x");
  for (int i = 0; i < 2; ++i) write(root + "/in-b/f" + std::to_string(i), "x");
  testing::FakeClock clock;
  LocalSystem system(clock, options, processes, endpoint, root + "/manifests");
  auto ready = [&](const std::string& key) { return system.platform.counts(key).ready; };

  EXPECT_TRUE(system.local.reload().empty());
  // 4 files / 2 per replica and 2 / 2: the same decision engine as on Kubernetes.
  EXPECT_TRUE(advanceUntil(
      system, clock, [&] { return ready("default/a") == 2 && ready("default/b") == 1; }, 100ms, 600))
      << "a: " << ready("default/a") << ", b: " << ready("default/b");

  // b.yaml breaks: the error names file, line and field; b keeps its last good
  // objects and a keeps running.
  write(root + "/manifests/b.yaml", functionYaml("b", root + "/in-b", 0));
  auto errors = system.local.reload();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], root +
                           "/manifests/b.yaml:12: Function default/b: spec.scaling.maxReplicas: Invalid value: 0: "
                           "spec.scaling.maxReplicas in body should be greater than or equal to 1");
  EXPECT_TRUE(system.local.reload().empty());  // reported once per change
  for (int i = 4; i < 6; ++i) write(root + "/in-a/f" + std::to_string(i), "x");
  EXPECT_TRUE(advanceUntil(
      system, clock, [&] { return ready("default/a") == 3; }, 100ms, 600));
  EXPECT_EQ(ready("default/b"), 1);

  // Removing a file removes its Functions and drains their replicas.
  fs::remove(root + "/manifests/a.yaml");
  EXPECT_TRUE(system.local.reload().empty());
  EXPECT_FALSE(system.store.object(spec::kFunctions, "default", "a"));
  EXPECT_TRUE(advanceUntil(
      system, clock, [&] { return ready("default/a") == 0; }, 100ms, 600));
  EXPECT_EQ(ready("default/b"), 1);
}

TEST_F(LocalOperatorTest, ACronTriggerWakesItsFunctionFiresOnceIntoAReadyProcessAndKeepsLastFireTime) {
  // 12:00:30 UTC; the Trigger fires daily at 12:01.
  testing::FakeClock wall(testing::FakeClock::TimePoint{} + std::chrono::hours(1),
                          parseRfc3339("2026-11-30T12:00:30Z"));
  write(root + "/manifests/report.yaml",
        "apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata:\n  name: report\nspec:\n  runtime: python3.11\n"
        "  code:\n    inline: \"def main_handler(event, context):\\n    return event\"\n  outputs:\n"
        "    - dir: {path: " +
            root +
            "/out}\n  scaling:\n    cooldownSeconds: 1\n    pollingIntervalSeconds: 1\n"
            "---\napiVersion: sluice.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: nightly\nspec:\n"
            "  functionRef: {name: report}\n  cron: {schedule: \"1 12 * * *\", payload: tick}\n");
  LocalSystem system(wall, options, processes, endpoint, root + "/manifests");
  ASSERT_TRUE(system.local.reload().empty());
  auto live = [&] { return system.platform.counts("default/report").live(); };
  // To 12:00:58: the Function waits at zero.
  EXPECT_FALSE(advanceUntil(
      system, wall, [&] { return live() > 0; }, 200ms, 140))
      << "a replica before the firing";
  EXPECT_TRUE(endpoint.invocations().empty());

  // The cron floor wakes a replica and the tick is delivered to it, within the firing's minute.
  EXPECT_TRUE(advanceUntil(
      system, wall, [&] { return !endpoint.invocations().empty(); }, 100ms, 500));
  EXPECT_LT(wall.wallNow(), parseRfc3339("2026-11-30T12:02:00Z"));
  EXPECT_EQ(system.platform.counts("default/report").ready, 1);
  EXPECT_EQ(endpoint.invocations(), std::vector<std::string>{"1 nightly cron.tick"});
  auto lastFire = [&] {
    auto trigger = system.store.object(spec::kTriggers, "default", "nightly");
    return trigger ? trigger->value("/status/lastFireTime"_json_pointer, std::string()) : std::string();
  };
  EXPECT_TRUE(advanceUntil(
      system, wall, [&] { return lastFire() == "2026-11-30T12:01:00Z"; }, 100ms, 100))
      << lastFire();

  // Past the firing's minute and the cooldown: back to zero, one tick per firing.
  auto replicasStatus = [&] {
    auto function = system.store.object(spec::kFunctions, "default", "report");
    return function ? function->value("/status/replicas"_json_pointer, -1) : -1;
  };
  EXPECT_TRUE(advanceUntil(
      system, wall, [&] { return live() == 0 && replicasStatus() == 0; }, 300ms, 600))
      << "live " << live() << ", status.replicas " << replicasStatus();
  EXPECT_EQ(endpoint.invocations().size(), 1u) << "one tick per firing";
}

TEST_F(LocalOperatorTest, AFunctionWaitingForASecretStartsWhenItsManifestArrives) {
  // The output's bearer token is a Secret; its manifest comes a minute late.
  write(root + "/manifests/fn.yaml",
        "apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata:\n  name: fn\nspec:\n  runtime: builtin\n"
        "  replicas: 1\n  pipeline:\n    - decompress: {format: gzip}\n  outputs:\n"
        "    - http: {url: \"http://127.0.0.1:1/x\", bearerTokenSecretRef: {name: tok}}\n"
        "---\napiVersion: sluice.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: fn-files\nspec:\n"
        "  functionRef: {name: fn}\n  objectStore:\n    type: dir\n    path: " +
            root + "/in-a\n");
  testing::FakeClock clock;
  LocalSystem system(clock, options, processes, endpoint, root + "/manifests");
  ASSERT_TRUE(system.local.reload().empty());
  auto ready = [&] { return system.platform.counts("default/fn").ready; };
  // A minute without the Secret: no process, and the FunctionController's retries have backed off.
  EXPECT_FALSE(advanceUntil(
      system, clock, [&] { return ready() > 0; }, 200ms, 300));

  write(root + "/manifests/tok.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tok\nstringData:\n  token: abc\n");
  ASSERT_TRUE(system.local.reload().empty());
  // Within a few seconds, not the backoff's next try.
  EXPECT_TRUE(advanceUntil(
      system, clock, [&] { return ready() == 1; }, 100ms, 50))
      << "ready " << ready();
}

}  // namespace
}  // namespace sluice::localmode
