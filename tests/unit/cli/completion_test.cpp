// `sluice completion bash|zsh`: the script is sourced by a real bash and asked
// for completions as bash would ask, so what it offers is what a user sees.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/app.h"
#include "cli_harness.h"

namespace sluice::cli {
namespace {

using testing::Harness;

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(h.run({"completion", "bash"}), kExitOk) << h.err.str();
    script = std::filesystem::temp_directory_path() / ("sluice-completion-" + std::to_string(::getpid()) + ".bash");
    std::ofstream(script) << h.out.str();
  }
  void TearDown() override { std::filesystem::remove(script); }

  // What bash offers for the words typed so far (the last one being completed); PATH is
  // emptied so no kubectl answers for Function names.
  std::string complete(const std::string& words) {
    const std::string command = "PATH= /bin/bash -c 'source " + script.string() + "; COMP_WORDS=(" + words +
                                "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sluice; echo \"${COMPREPLY[*]}\"'";
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    EXPECT_EQ(::pclose(pipe), 0) << command;
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  Harness h;
  std::filesystem::path script;
};

TEST_F(CompletionTest, SubcommandsFlagsAndOutputValuesAsBashOffersThem) {
  EXPECT_EQ(complete("sluice de"), "delete describe");
  EXPECT_EQ(complete("sluice co"), "completion");
  EXPECT_EQ(complete("sluice logs --fo"), "--follow");
  EXPECT_EQ(complete("sluice --kubeconfig x invoke --as"), "--async");
  EXPECT_EQ(complete("sluice -o \"\""), "text json yaml");
  EXPECT_EQ(complete("sluice describe -o y"), "yaml");
  // The global flags are offered after a subcommand too.
  EXPECT_EQ(complete("sluice logs --name"), "--namespace");
  // dlq has subcommands of its own: they come first, then their flags.
  EXPECT_EQ(complete("sluice dlq \"\""), "ls redrive");
  EXPECT_EQ(complete("sluice dlq r"), "redrive");
  EXPECT_EQ(complete("sluice dlq redrive --a"), "--all");
  EXPECT_EQ(complete("sluice dlq ls --li"), "--limit");
  EXPECT_EQ(complete("sluice build --in"), "--index-url");
}

TEST_F(CompletionTest, ZshGoesThroughBashcompinitAndAnUnknownShellIsAUsageError) {
  ASSERT_EQ(h.run({"completion", "zsh"}), kExitOk);
  EXPECT_EQ(h.out.str().find("autoload -U +X bashcompinit && bashcompinit\n"), h.out.str().find('\n') + 1);
  EXPECT_EQ(h.run({"completion", "fish"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice completion: shell: \"fish\" is not bash or zsh\n");
}

}  // namespace
}  // namespace sluice::cli
