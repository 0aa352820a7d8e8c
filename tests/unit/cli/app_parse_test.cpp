// The sluice command line's parsing and exit codes: 2 for usage errors (with
// a message naming the flag), 0 for help and version, global flags before or
// after the subcommand, and local/simulate handing their flags to
// sluice-operator unchanged.
#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli_harness.h"
#include "sluice/version.h"

namespace sluice::cli {
namespace {

using testing::Harness;

TEST(CliParseTest, NoSubcommandIsAUsageError) {
  Harness h;
  EXPECT_EQ(h.run({}), kExitUsage);
  EXPECT_NE(h.err.str().find("A subcommand is required"), std::string::npos) << h.err.str();
}

TEST(CliParseTest, UnknownSubcommandAndFlagAreNamed) {
  Harness h;
  EXPECT_EQ(h.run({"frobnicate"}), kExitUsage);
  EXPECT_NE(h.err.str().find("frobnicate"), std::string::npos) << h.err.str();
  EXPECT_EQ(h.run({"describe", "fn", "--no-such-flag"}), kExitUsage);
  EXPECT_NE(h.err.str().find("--no-such-flag"), std::string::npos) << h.err.str();
}

TEST(CliParseTest, HelpAndVersionExitZero) {
  Harness h;
  EXPECT_EQ(h.run({"--help"}), kExitOk);
  EXPECT_NE(h.out.str().find("invoke"), std::string::npos);
  EXPECT_EQ(h.run({"invoke", "--help"}), kExitOk);
  EXPECT_NE(h.out.str().find("--local"), std::string::npos) << h.out.str();
  EXPECT_EQ(h.run({"version"}), kExitOk);
  EXPECT_EQ(h.out.str(), std::string("sluice ") + kVersion + "\n");
}

TEST(CliParseTest, BadOutputFormatNamesTheFlag) {
  Harness h;
  EXPECT_EQ(h.run({"describe", "fn", "-o", "xml"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice describe: --output: xml is not one of text, json, yaml\n");
  EXPECT_TRUE(h.connects.empty());  // refused before any cluster call
}

TEST(CliParseTest, GlobalFlagsWorkBeforeAndAfterTheSubcommand) {
  Harness h;
  EXPECT_EQ(h.run({"--kubeconfig", "/k", "--context", "c1", "describe", "missing"}), kExitError);
  EXPECT_EQ(h.run({"describe", "missing", "--kubeconfig", "/k2", "-n", "team-b"}), kExitError);
  ASSERT_EQ(h.connects.size(), 2u);
  EXPECT_EQ(h.connects[0], "/k|c1");
  EXPECT_EQ(h.connects[1], "/k2|");
  EXPECT_EQ(h.err.str(), "sluice describe: Function team-b/missing not found\n");
}

TEST(CliParseTest, InvokeRefusesConflictingAndMalformedFlags) {
  Harness h;
  EXPECT_EQ(h.run({"invoke", "fn", "--local", "http://a", "-d", "x", "-f", "p.json"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice invoke: --data and --file: give one of them\n");
  EXPECT_EQ(h.run({"invoke", "fn", "--local", "http://a", "--gateway", "http://b"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice invoke: --local and --gateway: give one of them\n");
  EXPECT_EQ(h.run({"invoke", "fn", "--local", "http://a", "-H", "no colon"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice invoke: --header: \"no colon\" is not \"Name: value\"\n");
  EXPECT_EQ(h.run({"invoke", "fn", "--local", "http://a", "-f", "/no/such/payload"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice invoke: --file: cannot read /no/such/payload\n");
  EXPECT_EQ(h.run({"invoke", "fn", "--timeout", "0"}), kExitUsage);
  EXPECT_TRUE(h.http.requests().empty());
}

TEST(CliParseTest, DeleteNeedsNamesOrFilesButNotBoth) {
  Harness h;
  EXPECT_EQ(h.run({"delete"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice delete: name Functions or give -f PATH, not both\n");
  EXPECT_EQ(h.run({"delete", "fn", "-f", "dir"}), kExitUsage);
  EXPECT_TRUE(h.connects.empty());
}

TEST(CliParseTest, SimulatePassesEveryArgumentToTheOperator) {
  Harness h;
  h.programExit = 2;
  EXPECT_EQ(h.run({"simulate", "--trace", "t.csv", "--function", "f.yaml", "--policy", "sluice", "--json"}), 2);
  ASSERT_EQ(h.programs.size(), 1u);
  EXPECT_EQ(h.programs[0], (std::vector<std::string>{"/opt/sluice/sluice-operator", "simulate", "--trace", "t.csv",
                                                     "--function", "f.yaml", "--policy", "sluice", "--json"}));
}

TEST(CliParseTest, LocalRunsTheOperatorOnTheDirectoryWithExtraFlags) {
  Harness h;
  testing::TempDir dir;
  testing::writeText(dir.path / "fn.yaml",
                     "apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec:\n  runtime: builtin\n"
                     "  pipeline: [{name: m, mirror: {}}]\n");
  EXPECT_EQ(h.run({"local", dir.path.string(), "--gateway-listen-address", "127.0.0.1:9999"}), kExitOk) << h.err.str();
  ASSERT_EQ(h.programs.size(), 1u);
  EXPECT_EQ(h.programs[0], (std::vector<std::string>{"/opt/sluice/sluice-operator", "--local", dir.path.string(),
                                                     "--gateway-listen-address", "127.0.0.1:9999"}));
}

TEST(CliParseTest, LocalRefusesADirectoryWithErrorsAndStartsNothing) {
  Harness h;
  testing::TempDir dir;
  testing::writeText(dir.path / "fn.yaml",
                     "apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec:\n  runtime: cobol\n");
  EXPECT_EQ(h.run({"local", dir.path.string()}), kExitUsage);
  EXPECT_TRUE(h.programs.empty());
  EXPECT_NE(h.err.str().find((dir.path / "fn.yaml").string() + ":5: Function default/f: spec.runtime: Unsupported"),
            std::string::npos)
      << h.err.str();
}

}  // namespace
}  // namespace sluice::cli
