// `sluice completion bash|zsh`: a completion script written from the CLI11
// definition itself, so every subcommand and flag the binary has is offered
// and none it lacks: subcommands, each one's flags and the global ones,
// -o/--output values, Function names (from kubectl, when installed) where a
// subcommand takes a Function, and file names where it takes paths.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace sluice::cli {

// The script for `shell` (bash or zsh; zsh through bashcompinit), completing
// `sluice` and `kubectl-sluice`. An unknown shell is an error naming it.
Result<std::string> completionScript(const CLI::App& app, const std::string& shell);

}  // namespace sluice::cli
