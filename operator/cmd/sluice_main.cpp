// sluice: the Function author's command line (operator/cli). Installed also
// as kubectl-sluice, so `kubectl sluice ...` runs it (kubectl runs any
// kubectl-* program on PATH as a plugin). Exit codes: docs/cli.md.
#include <string>
#include <vector>

#include "cli/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  sluice::cli::CliEnvironment env = sluice::cli::systemEnvironment();
  return sluice::cli::runCli(args, env);
}
