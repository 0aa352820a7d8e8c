// LocalRunner: manifests in a directory become Functions the platform runs,
// scaled by the same autoscaler; a broken file is reported with file, line and
// field and leaves every other Function running.
#include "local/local_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/time.h"
#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "fakes/fake_clock.h"
#include "http/http_client.h"

namespace sluice::local {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class NoProcesses final : public platform::ProcessRunner {
 public:
  Result<int> spawn(const std::vector<std::string>& argv, const Environment&) override {
    argvs.push_back(argv);
    return next++;
  }
  void signal(int pid, int) override { exits.emplace_back(pid, 0); }
  std::vector<std::pair<int, int>> reapExited() override { return std::exchange(exits, {}); }
  int freePort() override { return 1; }
  int next = 10;
  std::vector<std::vector<std::string>> argvs;
  std::vector<std::pair<int, int>> exits;
};

class AlwaysReady final : public platform::RuntimeEndpoint {
 public:
  bool ready(int) override { return true; }
  Status specialize(int, const std::string&, const std::string&) override { return Status::ok(); }
  Status invoke(int port, const std::string& trigger, const std::string& eventType, const std::string&) override {
    invoked.push_back(std::to_string(port) + " " + trigger + " " + eventType);
    return Status::ok();
  }
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

class LocalRunnerTest : public ::testing::Test {
 protected:
  // Each test its own directory: ctest runs them as parallel processes.
  LocalRunnerTest()
      : root(::testing::TempDir() + "/local-runner-test-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    fs::remove_all(root);
    fs::create_directories(root + "/manifests");
    fs::create_directories(root + "/in-a");
    fs::create_directories(root + "/in-b");
    options.runtimeBinary = "/bin/sluice-runtime";
    options.stateDir = root + "/state";
    options.warmPoolSize = 0;
    runnerOptions.dir = root + "/manifests";
  }
  std::string root;
  platform::LocalPlatformOptions options;
  LocalRunnerOptions runnerOptions;
  testing::FakeClock clock;
  NoProcesses processes;
  AlwaysReady endpoint;
};

TEST_F(LocalRunnerTest, ScalesByObjectCountAndABrokenFileLeavesTheOthersRunning) {
  write(root + "/manifests/a.yaml", functionYaml("a", root + "/in-a", 3));
  write(root + "/manifests/b.yaml", functionYaml("b", root + "/in-b", 3));
  for (int i = 0; i < 4; ++i) write(root + "/in-a/f" + std::to_string(i), "x");
  for (int i = 0; i < 2; ++i) write(root + "/in-b/f" + std::to_string(i), "x");

  platform::LocalPlatform platform(options, processes, endpoint, clock);
  LocalStore store;
  controller::EventRecorder events(store, "test", clock);
  controllers::TriggerScalerFactory scalers(store, http::makeCppRestHttpClient(), clock);
  LocalRunner runner(runnerOptions, store, platform, scalers, events, nullptr, clock);

  auto settle = [&] {
    for (int i = 0; i < 3; ++i) {
      runner.round();
      clock.advance(1100ms);
    }
  };
  EXPECT_TRUE(runner.reload().empty());
  settle();
  // 4 files / 2 per replica and 2 / 2: the same decision engine as on Kubernetes.
  EXPECT_EQ(platform.counts("default/a").ready, 2);
  EXPECT_EQ(platform.counts("default/b").ready, 1);

  // b.yaml breaks: the error names file, line and field; b keeps its last good
  // objects and a keeps running.
  std::string broken = functionYaml("b", root + "/in-b", 0);
  write(root + "/manifests/b.yaml", broken);
  auto errors = runner.reload();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], root +
                           "/manifests/b.yaml:12: Function default/b: spec.scaling.maxReplicas: Invalid value: 0: "
                           "spec.scaling.maxReplicas in body should be greater than or equal to 1");
  EXPECT_TRUE(runner.reload().empty());  // reported once per change
  for (int i = 4; i < 6; ++i) write(root + "/in-a/f" + std::to_string(i), "x");
  settle();
  EXPECT_EQ(platform.counts("default/a").ready, 3);
  EXPECT_EQ(platform.counts("default/b").ready, 1);

  // Removing a file removes its Functions and drains their replicas.
  fs::remove(root + "/manifests/a.yaml");
  EXPECT_TRUE(runner.reload().empty());
  settle();
  EXPECT_EQ(platform.counts("default/a").ready, 0);
  EXPECT_EQ(platform.counts("default/b").ready, 1);
}

TEST_F(LocalRunnerTest, ACronTriggerWakesItsFunctionFiresOnceIntoAReadyProcessAndKeepsLastFireTime) {
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
  platform::LocalPlatform platform(options, processes, endpoint, wall);
  LocalStore store(nullptr, wall);
  controller::EventRecorder events(store, "test", wall);
  controllers::TriggerScalerFactory scalers(store, http::makeCppRestHttpClient(), wall);
  LocalRunner runner(runnerOptions, store, platform, scalers, events, nullptr, wall);
  ASSERT_TRUE(runner.reload().empty());
  auto step = [&](std::chrono::milliseconds by) {
    runner.round();
    runner.fireCron();
    wall.advance(by);
  };
  for (int i = 0; i < 100; ++i) step(300ms);  // to 12:01:00
  EXPECT_EQ(platform.counts("default/report").live(), 0) << "no replica before the firing";
  EXPECT_TRUE(endpoint.invoked.empty());
  for (int i = 0; i < 10; ++i) step(300ms);  // the cron floor wakes a replica, the tick is delivered
  EXPECT_EQ(platform.counts("default/report").ready, 1);
  EXPECT_EQ(endpoint.invoked, std::vector<std::string>{"1 nightly cron.tick"});
  EXPECT_EQ(store.triggers().get("default/nightly")->value("/status/lastFireTime"_json_pointer, std::string()),
            "2026-11-30T12:01:00Z");
  for (int i = 0; i < 250; ++i) step(300ms);  // past the firing's minute and the cooldown
  EXPECT_EQ(endpoint.invoked.size(), 1u) << "one tick per firing";
  EXPECT_EQ(platform.counts("default/report").live(), 0) << "back to zero after the firing's minute";
  // The Function's status is the FunctionController's, as on Kubernetes.
  EXPECT_EQ(store.functions().get("default/report")->value("/status/replicas"_json_pointer, -1), 0);
}

TEST(LocalConfigurationTest, InlineCodeTravelsAsCodeFilesAndDirTriggersPollFast) {
  nlohmann::json function = {
      {"spec",
       {{"runtime", "python3.11"}, {"handler", "main.handle"}, {"code", {{"inline", "def handle(e, c): return e"}}}}}};
  nlohmann::json config = {{"codeDir", "/code"},
                           {"triggers", {{{"name", "t"}, {"objectStore", {{"kind", "dir"}, {"prefix", "/in"}}}}}}};
  auto out = platform::localConfiguration(function, config, platform::LocalPlatformOptions{});
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ((*out)["codeFiles"], (nlohmann::json{{"main.py", "def handle(e, c): return e"}}));
  EXPECT_FALSE(out->contains("codeDir"));
  EXPECT_EQ((*out)["triggers"][0]["objectStore"]["claimTtl"], "6s");

  function["spec"]["code"] = {{"configMapRef", {{"name", "x"}}}};
  EXPECT_EQ(platform::localConfiguration(function, config, platform::LocalPlatformOptions{}).status().message(),
            "spec.code.configMapRef: --local runs inline code only (spec.code.inline)");
}

}  // namespace
}  // namespace sluice::local
