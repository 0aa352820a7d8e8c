// Golden outputs of every subcommand that does not need a cluster or a broker
// (those are in the tests of their subcommand, against fakes): each
// subcommand's --help (the flags, exit codes and wording a user reads), the
// completion scripts, the file tree of every template `init` writes (not the
// seed scenarios: templates_test holds them equal to examples/), init's and
// version's own output, and the sluice-operator command lines `local` and
// `simulate` run. Goldens live in tests/unit/cli/golden/;
// SLUICE_UPDATE_GOLDEN=1 rewrites them (cli_harness.h, docs/cli.md).
#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli/templates.h"
#include "cli_harness.h"
#include "sluice/version.h"

namespace sluice::cli {
namespace {

using testing::expectGolden;
using testing::Harness;
using testing::TempDir;

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out + "\n";
}

TEST(GoldenTest, HelpOfEverySubcommand) {
  const std::vector<std::vector<std::string>> commands = {
      {},      {"init"},      {"check"},          {"apply"}, {"delete"},   {"describe"}, {"invoke"},     {"logs"},
      {"dlq"}, {"dlq", "ls"}, {"dlq", "redrive"}, {"local"}, {"simulate"}, {"version"},  {"completion"}, {"build"}};
  for (const auto& command : commands) {
    Harness h;
    std::vector<std::string> args = command;
    args.push_back("--help");
    std::string name = "help";
    for (const std::string& word : command) name += "-" + word;
    const int exit = h.run(args);
    EXPECT_EQ(exit, kExitOk) << name << ": " << h.err.str();
    expectGolden(name + ".txt", h.out.str());
  }
}

TEST(GoldenTest, CompletionScripts) {
  Harness h;
  ASSERT_EQ(h.run({"completion", "bash"}), kExitOk) << h.err.str();
  expectGolden("completion.bash", h.out.str());
  ASSERT_EQ(h.run({"completion", "zsh"}), kExitOk) << h.err.str();
  expectGolden("completion.zsh", h.out.str());
  EXPECT_EQ(h.run({"completion", "fish"}), kExitUsage);
  expectGolden("completion-fish.err", h.err.str());
}

// Every file a template writes, each under a "==> name <==" line; DIR for the directory.
TEST(GoldenTest, InitFileTreesAndOutput) {
  ASSERT_EQ(templateNames().size(), 9u);
  for (const std::string& name : std::vector<std::string>{"python", "pipeline", "byo-python", "byo-http"}) {
    Harness h;
    TempDir root;
    const std::string dir = (root.path / "greeter").string();
    ASSERT_EQ(h.run({"init", dir, "-t", name}), kExitOk) << name << ": " << h.err.str();
    std::string tree = "$ sluice init DIR -t " + name + "\n" + testing::replaceAll(h.out.str(), dir, "DIR");
    auto files = renderTemplate(name, "greeter");
    ASSERT_TRUE(files.isOk()) << name;
    for (const TemplateFile& file : *files) {
      tree += "==> " + file.name + " <==\n" + testing::readText(root.path / "greeter" / file.name);
    }
    expectGolden("init-" + name + ".txt", tree);
  }
  Harness h;
  ASSERT_EQ(h.run({"init", "--list"}), kExitOk);
  expectGolden("init-list.txt", h.out.str());
}

TEST(GoldenTest, VersionLocalAndSimulate) {
  Harness h;
  ASSERT_EQ(h.run({"version"}), kExitOk);
  expectGolden("version.txt", testing::replaceAll(h.out.str(), kVersion, "VERSION"));
  TempDir dir;
  ASSERT_EQ(h.run({"init", (dir.path / "fn").string(), "-t", "pipeline"}), kExitOk) << h.err.str();
  ASSERT_EQ(h.run({"local", (dir.path / "fn").string(), "--warm-pool", "0"}), kExitOk) << h.err.str();
  ASSERT_EQ(h.run({"simulate", "--trace", "t.csv", "--json"}), kExitOk) << h.err.str();
  ASSERT_EQ(h.programs.size(), 2u);
  expectGolden("local.txt",
               testing::replaceAll(joined(h.programs[0]) + joined(h.programs[1]), dir.path.string(), "DIR"));
}

}  // namespace
}  // namespace sluice::cli
