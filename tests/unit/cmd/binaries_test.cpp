// The two binaries answer --version and --help, and refuse bad flags with an
// error naming them. Runs the built executables as a user would.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "sluice/version.h"

namespace {

struct Output {
  std::string text;
  int exitCode;
};

Output run(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return {"popen failed", -1};
  std::string text;
  std::array<char, 4096> buffer{};
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) text.append(buffer.data(), n);
  int status = pclose(pipe);
  return {text, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

const std::string kBuild = SLUICE_BUILD_DIR;

TEST(BinariesTest, VersionFlagPrintsProjectVersion) {
  for (std::string name : {"sluice-operator", "sluice-runtime"}) {
    Output out = run(kBuild + "/" + name + " --version");
    EXPECT_EQ(out.exitCode, 0) << name;
    EXPECT_EQ(out.text, name + " " + sluice::kVersion + "\n");
  }
}

TEST(BinariesTest, HelpListsTheMainFlags) {
  Output op = run(kBuild + "/sluice-operator --help");
  EXPECT_EQ(op.exitCode, 0);
  EXPECT_NE(op.text.find("--kubeconfig"), std::string::npos);
  EXPECT_NE(op.text.find("--local"), std::string::npos);
  EXPECT_NE(op.text.find("--leader-elect"), std::string::npos);

  Output rt = run(kBuild + "/sluice-runtime --help");
  EXPECT_EQ(rt.exitCode, 0);
  EXPECT_NE(rt.text.find("--warm"), std::string::npos);
  EXPECT_NE(rt.text.find("--config"), std::string::npos);
}

TEST(BinariesTest, UnknownFlagIsRefusedByName) {
  Output out = run(kBuild + "/sluice-operator --no-such-flag");
  EXPECT_NE(out.exitCode, 0);
  EXPECT_NE(out.text.find("--no-such-flag"), std::string::npos);
}

TEST(BinariesTest, BadLogLevelIsRefusedNamingFlagAndValue) {
  Output out = run(kBuild + "/sluice-runtime --log-level loud");
  EXPECT_EQ(out.exitCode, 2);
  EXPECT_EQ(out.text,
            "sluice-runtime: --log-level: log level \"loud\" is not one of trace, debug, info, warn, error, off\n");
}

TEST(BinariesTest, ABadScalerEndpointAllowEntryIsRefusedNamingIt) {
  Output out = run(kBuild + "/sluice-operator --kubeconfig /nonexistent --scaler-endpoint-allow kafka.svc,k*.svc");
  EXPECT_EQ(out.exitCode, 2);
  EXPECT_EQ(out.text,
            "sluice-operator: --scaler-endpoint-allow: scaler endpoint allow-list entry \"k*.svc\": expected host, "
            "host:port or *.domain[:port]\n");
}

TEST(BinariesTest, AnApiserverRateLimitOutOfRangeIsRefusedNamingFlagAndValue) {
  Output out = run(kBuild + "/sluice-operator --kubeconfig /nonexistent --kube-api-burst 0");
  EXPECT_NE(out.exitCode, 0);
  EXPECT_NE(out.text.find("--kube-api-burst: Value 0 not in range 1 to 100000"), std::string::npos) << out.text;
}

TEST(BinariesTest, AWarmPoolCeilingBelowItsFloorIsRefusedNamingBothFlags) {
  Output out = run(kBuild + "/sluice-operator --kubeconfig /nonexistent --warm-pool-floor 3 --warm-pool-ceiling 2");
  EXPECT_EQ(out.exitCode, 2);
  EXPECT_EQ(out.text, "sluice-operator: --warm-pool-ceiling: 2 is below --warm-pool-floor 3\n");
}

// A crash leaves its signal and a backtrace in the log, and the process still
// dies of that signal (bash reports 128 + 11 for SIGSEGV).
TEST(BinariesTest, AFatalSignalIsReportedWithABacktrace) {
  Output out = run("bash -c '" + kBuild +
                   "/sluice-runtime --warm --control-bind-address 127.0.0.1:0 --log-level warn & "
                   "pid=$!; sleep 1; kill -SEGV $pid; wait $pid; echo exit=$?'");
  EXPECT_NE(out.text.find("fatal signal: Segmentation fault; backtrace:\n"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("sluice-runtime("), std::string::npos) << "no frame of the binary: " << out.text;
  EXPECT_NE(out.text.find("exit=139"), std::string::npos) << out.text;
}

}  // namespace

// The CLI is built with its kubectl plugin name beside it (a symlink kubectl
// runs as `kubectl sluice`), and both are the same program.
TEST(BinariesTest, SluiceCliAnswersUnderItsPluginNameToo) {
  for (std::string name : {"sluice", "kubectl-sluice"}) {
    Output out = run(kBuild + "/" + name + " --version");
    EXPECT_EQ(out.exitCode, 0) << name;
    EXPECT_EQ(out.text, std::string("sluice ") + sluice::kVersion + "\n") << name;
  }
  Output out = run(kBuild + "/sluice check /nonexistent-dir");
  EXPECT_EQ(out.exitCode, 2);
  EXPECT_EQ(out.text, "/nonexistent-dir: no such file or directory\n/nonexistent-dir: 1 error(s)\n");
}
