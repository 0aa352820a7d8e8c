// LocalPlatform's process logic against fakes of its OS seams and a FakeClock:
// warm pool, adoption, cold starts, drains, crash backoff, shutdown.
#include "platform/local/local_platform.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fakes/fake_clock.h"
#include "kube/memory/in_memory_resource_client.h"

namespace sluice::platform {
namespace {

using namespace std::chrono_literals;

class FakeProcesses final : public ProcessRunner {
 public:
  Result<int> spawn(const std::vector<std::string>& argv, const Environment& env) override {
    int pid = nextPid++;
    started[pid] = argv;
    environments[pid] = env;
    return pid;
  }
  void signal(int pid, int signalNumber) override {
    signals.emplace_back(pid, signalNumber);
    // A runtime exits when signalled (drained at once here).
    if (started.contains(pid) && !exited.contains(pid)) pending.emplace_back(pid, 128 + signalNumber);
  }
  std::vector<std::pair<int, int>> reapExited() override {
    auto out = std::move(pending);
    pending.clear();
    for (const auto& [pid, code] : out) exited.insert(pid);
    return out;
  }
  int freePort() override { return nextPort++; }

  void crash(int pid) { pending.emplace_back(pid, 137); }
  bool warm(int pid) const { return started.at(pid).at(1) == "--warm"; }
  int alive() const { return static_cast<int>(started.size() - exited.size() - pending.size()); }

  int nextPid = 100;
  int nextPort = 20000;
  std::map<int, std::vector<std::string>> started;
  std::map<int, Environment> environments;
  std::vector<std::pair<int, int>> signals;
  std::vector<std::pair<int, int>> pending;
  std::set<int> exited;
};

class FakeEndpoint final : public RuntimeEndpoint {
 public:
  bool ready(int) override { return readyAnswer; }
  Status specialize(int port, const std::string& token, const std::string& configuration) override {
    specialized.push_back({port, token + " " + configuration});
    return specializeAnswer;
  }
  Status invoke(int port, const std::string& trigger, const std::string& eventType, const std::string& body) override {
    invoked.push_back(std::to_string(port) + " " + trigger + " " + eventType + " " + body);
    return invokeAnswer;
  }
  bool readyAnswer = true;
  Status invokeAnswer;
  std::vector<std::string> invoked;
  Status specializeAnswer;
  std::vector<std::pair<int, std::string>> specialized;
};

class LocalPlatformTest : public ::testing::Test {
 protected:
  LocalPlatformTest() {
    options.runtimeBinary = "/bin/sluice-runtime";
    // One directory per test: ctest runs the cases of this binary side by side.
    options.stateDir = ::testing::TempDir() + "/local-platform-test-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    options.token = "tok";
    options.warmPoolSize = 1;
  }
  LocalReplicaSpec spec(int desired, const std::string& name = "fn") {
    LocalReplicaSpec s;
    s.key = "default/" + name;
    s.configuration = {{"name", name}};
    s.desired = desired;
    return s;
  }
  LocalPlatformOptions options;
  testing::FakeClock clock;
  FakeProcesses processes;
  FakeEndpoint endpoint;
};

TEST_F(LocalPlatformTest, KeepsAWarmPoolAndAdoptsItFirstThenStartsColdReplicas) {
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.tick();
  ASSERT_EQ(processes.started.size(), 1u);
  EXPECT_TRUE(processes.warm(100));
  platform.tick();  // the warm one answers /readyz
  EXPECT_EQ(platform.warmReady(), 1);

  platform.applyConfiguration(spec(3));
  platform.tick();
  // The warm process was specialized with the token and configuration; two cold
  // starts with --config; a new warm process refills the pool.
  ASSERT_EQ(endpoint.specialized.size(), 1u);
  EXPECT_EQ(endpoint.specialized[0], (std::pair<int, std::string>{20000, "tok {\"name\":\"fn\"}"}));
  EXPECT_EQ(processes.started.size(), 4u);
  EXPECT_EQ(processes.started[101].at(1), "--config");
  EXPECT_EQ(processes.started[102].at(1), "--config");
  EXPECT_TRUE(processes.warm(103));
  platform.tick();
  EXPECT_EQ(platform.counts("default/fn"), (ReplicaCounts{3, 3, 0, 0, 0}));
}

TEST_F(LocalPlatformTest, ScaleDownDrainsTheYoungestWithSigterm) {
  options.warmPoolSize = 0;
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.applyConfiguration(spec(2));
  platform.tick();
  clock.advance(1s);
  platform.tick();
  platform.applyConfiguration(spec(1));
  platform.tick();
  EXPECT_EQ(processes.signals, (std::vector<std::pair<int, int>>{{101, SIGTERM}}));
  platform.tick();  // its exit is reaped as a drain, not a crash
  EXPECT_EQ(platform.counts("default/fn"), (ReplicaCounts{1, 1, 0, 0, 0}));
  EXPECT_EQ(processes.started.size(), 2u);
}

TEST_F(LocalPlatformTest, ACrashedReplicaIsReplacedAfterADoublingBackoff) {
  options.warmPoolSize = 0;
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.applyConfiguration(spec(1));
  platform.tick();
  ASSERT_EQ(platform.replicaPids("default/fn"), std::vector<int>{100});

  processes.crash(100);
  platform.tick();
  EXPECT_EQ(platform.counts("default/fn").restarts, 1);
  EXPECT_TRUE(platform.replicaPids("default/fn").empty());  // backing off 1 s
  clock.advance(999ms);
  platform.tick();
  EXPECT_TRUE(platform.replicaPids("default/fn").empty());
  clock.advance(1ms);
  platform.tick();
  ASSERT_EQ(platform.replicaPids("default/fn"), std::vector<int>{101});

  processes.crash(101);
  platform.tick();
  clock.advance(1999ms);
  platform.tick();
  EXPECT_TRUE(platform.replicaPids("default/fn").empty());  // second crash: 2 s
  clock.advance(1ms);
  platform.tick();
  EXPECT_EQ(platform.replicaPids("default/fn"), std::vector<int>{102});
  EXPECT_EQ(platform.counts("default/fn").restarts, 2);
}

TEST_F(LocalPlatformTest, AChangedConfigurationReplacesReplicas) {
  options.warmPoolSize = 0;
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.applyConfiguration(spec(1));
  platform.tick();
  platform.tick();  // ready
  LocalReplicaSpec changed = spec(1);
  changed.configuration["concurrency"] = 4;
  platform.applyConfiguration(changed);
  // As on Kubernetes (the same plan): one fresh replica first, the old one drained once it is ready.
  endpoint.readyAnswer = false;
  platform.tick();
  EXPECT_TRUE(processes.signals.empty()) << "the old replica serves until its replacement is ready";
  EXPECT_EQ(platform.replicaPids("default/fn"), (std::vector<int>{100, 101}));
  platform.tick();
  EXPECT_TRUE(processes.signals.empty());
  endpoint.readyAnswer = true;
  platform.tick();  // 101 ready: 100 goes
  EXPECT_EQ(processes.signals, (std::vector<std::pair<int, int>>{{100, SIGTERM}}));
  EXPECT_EQ(platform.replicaPids("default/fn"), std::vector<int>{101});
}

TEST_F(LocalPlatformTest, AFailedSpecializationFallsBackToAColdStart) {
  endpoint.specializeAnswer = unavailable("boom");
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.tick();
  platform.tick();
  platform.applyConfiguration(spec(1));
  platform.tick();
  EXPECT_EQ(processes.signals, (std::vector<std::pair<int, int>>{{100, SIGKILL}}));
  EXPECT_EQ(platform.replicaPids("default/fn"), std::vector<int>{101});
  EXPECT_EQ(processes.started[101].at(1), "--config");
}

TEST_F(LocalPlatformTest, ForgetDrainsAndShutdownStopsEveryChild) {
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.applyConfiguration(spec(2, "a"));
  platform.applyConfiguration(spec(1, "b"));
  platform.tick();
  EXPECT_EQ(processes.alive(), 4);  // 3 replicas + 1 warm
  platform.forget("default/a");
  platform.tick();
  platform.tick();
  EXPECT_EQ(platform.counts("default/a"), ReplicaCounts{});
  EXPECT_EQ(processes.alive(), 2);
  platform.shutdown();
  EXPECT_EQ(processes.alive(), 0);
}

TEST_F(LocalPlatformTest, InvokeGoesToAReadyReplicaAndIsUnavailableWithoutOne) {
  options.warmPoolSize = 0;
  endpoint.readyAnswer = false;
  LocalPlatform platform(options, processes, endpoint, clock);
  platform.applyConfiguration(spec(1));
  platform.tick();  // started, not ready yet
  auto none = platform.invoke("default/fn", "nightly", "cron.tick", "{}");
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(none.status().message(), "no ready replica process of Function default/fn");
  endpoint.readyAnswer = true;
  platform.tick();
  auto delivered = platform.invoke("default/fn", "nightly", "cron.tick", "{}");
  ASSERT_TRUE(delivered.isOk()) << delivered.status().toString();
  EXPECT_EQ(*delivered, "process 100");
  // To the replica's data port (20000 is its control port).
  EXPECT_EQ(endpoint.invoked, std::vector<std::string>{"20001 nightly cron.tick {}"});
  // The replica's own verdict comes back unchanged.
  endpoint.invokeAnswer = internalError("handler failed");
  EXPECT_EQ(platform.invoke("default/fn", "nightly", "cron.tick", "{}").status().message(), "handler failed");
}

TEST_F(LocalPlatformTest, ApplyRunsTheRenderedConfigurationWithInlineCodeAndRefusesOtherCode) {
  options.warmPoolSize = 0;
  LocalPlatform platform(options, processes, endpoint, clock);
  ReplicaSpec replicaSpec;
  replicaSpec.key = "default/fn";
  replicaSpec.function = {{"spec", {{"code", {{"inline", "def main_handler(e, c): return e"}}}}}};
  replicaSpec.rendered.config = {{"name", "fn"}, {"codeDir", "/code"}, {"triggers", nlohmann::json::array()}};
  replicaSpec.desired = 1;
  auto outcome = platform.apply(replicaSpec);
  ASSERT_TRUE(outcome.isOk()) << outcome.status().toString();
  EXPECT_EQ(outcome->counts.desired, 1);
  EXPECT_EQ(outcome->counts.live(), 0) << "as found: tick() starts the process";
  platform.tick();
  platform.tick();  // it answers /readyz
  EXPECT_EQ(platform.counts("default/fn").ready, 1);

  replicaSpec.function["spec"]["code"] = {{"image", "registry/code:1"}};
  auto refused = platform.apply(replicaSpec);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "spec.code.image: --local runs inline code only (spec.code.inline)");
  platform.tick();
  EXPECT_EQ(platform.counts("default/fn").ready, 1) << "a refused spec leaves the replicas as they are";
}

TEST_F(LocalPlatformTest, SecretsReachAColdStartedReplicasEnvironmentAndAreNeverAdopted) {
  kube::InMemoryResourceClient store;  // as under --local: Secret manifests from DIR
  store.put(kube::resources::kSecrets, {{"apiVersion", "v1"},
                                        {"kind", "Secret"},
                                        {"metadata", {{"name", "s3-creds"}, {"namespace", "default"}}},
                                        {"data", {{"accessKey", "bWluaW8="}}}});
  LocalPlatform platform(options, processes, endpoint, clock, nullptr, &store);
  platform.tick();
  platform.tick();  // a warm process is ready
  ReplicaSpec replicaSpec;
  replicaSpec.key = "default/fn";
  replicaSpec.function = {{"metadata", {{"namespace", "default"}}}, {"spec", {{"runtime", "builtin"}}}};
  replicaSpec.rendered.config = {{"name", "fn"}, {"triggers", nlohmann::json::array()}};
  replicaSpec.rendered.secretEnvs = {{"SLUICE_SECRET_TRIGGER_FILES_ACCESSKEY", "s3-creds", "accessKey", false}};
  replicaSpec.desired = 1;
  ASSERT_TRUE(platform.apply(replicaSpec).isOk());
  platform.tick();
  EXPECT_TRUE(endpoint.specialized.empty()) << "a warm process has no Secrets: not adopted";
  ASSERT_EQ(platform.replicaPids("default/fn"), std::vector<int>{101});
  EXPECT_EQ(processes.environments[101],
            (ProcessRunner::Environment{{"SLUICE_SECRET_TRIGGER_FILES_ACCESSKEY", "minio"}}));

  replicaSpec.rendered.secretEnvs[0].secretName = "missing";
  auto missing = platform.apply(replicaSpec);
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << "retried until the Secret appears";
  EXPECT_EQ(missing.status().message(), "Secret default/missing: secrets \"missing\" not found");
}

TEST(LocalConfigurationTest, InlineCodeTravelsAsCodeFilesAndDirTriggersPollFast) {
  nlohmann::json function = {
      {"spec",
       {{"runtime", "python3.11"}, {"handler", "main.handle"}, {"code", {{"inline", "def handle(e, c): return e"}}}}}};
  nlohmann::json config = {{"codeDir", "/code"},
                           {"triggers", {{{"name", "t"}, {"objectStore", {{"kind", "dir"}, {"prefix", "/in"}}}}}}};
  auto out = localConfiguration(function, config, LocalPlatformOptions{});
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ((*out)["codeFiles"], (nlohmann::json{{"main.py", "def handle(e, c): return e"}}));
  EXPECT_FALSE(out->contains("codeDir"));
  EXPECT_EQ((*out)["triggers"][0]["objectStore"]["claimTtl"], "6s");

  function["spec"]["code"] = {{"configMapRef", {{"name", "x"}}}};
  EXPECT_EQ(localConfiguration(function, config, LocalPlatformOptions{}).status().message(),
            "spec.code.configMapRef: --local runs inline code only (spec.code.inline)");
}

// spec.protocol http under --local: no code to carry; the replicas deliver to
// the server the user runs on spec.http.port (docs/handler-images.md).
TEST(LocalConfigurationTest, HttpProtocolCarriesNoCode) {
  nlohmann::json function = {{"spec", {{"image", "repo/node:1"}, {"protocol", "http"}}}};
  nlohmann::json config = {{"runtime", "http"}, {"http", {{"port", 3000}, {"path", "/"}}}, {"triggers", {}}};
  auto out = localConfiguration(function, config, LocalPlatformOptions{});
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_FALSE(out->contains("codeFiles"));
  EXPECT_EQ((*out)["http"]["port"], 3000);
}

}  // namespace
}  // namespace sluice::platform
