// `sluice-operator simulate` as a user runs it: files in, JSON out, errors naming the field.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace {

struct Output {
  std::string text;
  int exitCode;
};

Output run(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {"popen failed", -1};
  std::string text;
  std::array<char, 4096> buffer{};
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) text.append(buffer.data(), n);
  int status = pclose(pipe);
  return {text, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(SimulateCliTest, PrintsTheResultAsJsonAndRefusesBadInput) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("sluice-simulate-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "trace.json")
      << R"({"service_rate_per_replica": 10, "cold_start_seconds": 0, "arrivals": [20, 0, 0]})";
  std::ofstream(dir / "function.yaml")
      << "apiVersion: sluice.io/v1alpha1\nkind: Function\nspec:\n  scaling:\n    maxReplicas: 4\n";
  std::ofstream(dir / "bad.yaml")
      << "apiVersion: sluice.io/v1alpha1\nkind: Function\nspec:\n  scaling:\n    cooldownSeconds: soon\n";
  const std::string op =
      std::string(SLUICE_BUILD_DIR) + "/sluice-operator simulate --trace " + (dir / "trace.json").string();

  Output ok = run(op + " --function " + (dir / "function.yaml").string() + " --policy static-peak --json");
  ASSERT_EQ(ok.exitCode, 0) << ok.text;
  nlohmann::json result = nlohmann::json::parse(ok.text);
  EXPECT_EQ(result["policy"], "static-peak");
  EXPECT_EQ(result["replica_seconds"], 6.0);
  EXPECT_EQ(result["latency_p99_s"], 0.05);
  EXPECT_EQ(result["replicas"], nlohmann::json::array({2, 2, 2}));

  // --warm-pool in place of the trace's warm_pool (none in this trace): one pod for the 3 s.
  Output pooled = run(op + " --function " + (dir / "function.yaml").string() + " --warm-pool 1 --json");
  ASSERT_EQ(pooled.exitCode, 0) << pooled.text;
  EXPECT_EQ(nlohmann::json::parse(pooled.text)["warm_pool_replica_seconds"], 3.0);

  Output bad = run(op + " --function " + (dir / "bad.yaml").string() + " --policy sluice --json");
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_EQ(bad.text, "sluice-operator simulate: " + (dir / "bad.yaml").string() +
                          ": spec.scaling.cooldownSeconds: \"soon\" is not an integer\n");

  Output policy = run(op + " --function " + (dir / "function.yaml").string() + " --policy hpa");
  EXPECT_EQ(policy.exitCode, 2);
  EXPECT_EQ(policy.text, "sluice-operator simulate: --policy: \"hpa\" is not sluice, keda-default or static-peak\n");

  Output missing = run(std::string(SLUICE_BUILD_DIR) + "/sluice-operator simulate --policy sluice");
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_NE(missing.text.find("--trace is required"), std::string::npos) << missing.text;
  fs::remove_all(dir);
}

}  // namespace
