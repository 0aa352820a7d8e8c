// sluice: the Function author's command line (operator/cli). Installed also
// as kubectl-sluice, so `kubectl sluice ...` runs it (kubectl runs any
// kubectl-* program on PATH as a plugin). Exit codes: docs/cli.md.
#include <string>
#include <vector>

#include "api/v1alpha1/semantics.h"
#include "cli/app.h"
#include "python_syntax/python_syntax.h"

int main(int argc, char** argv) {
  // `sluice check` compiles inline handler code as the replica would load it.
  sluice::api::v1alpha1::setPythonSyntaxCheck(&sluice::python_syntax::check);
  std::vector<std::string> args(argv + 1, argv + argc);
  sluice::cli::CliEnvironment env = sluice::cli::systemEnvironment();
  return sluice::cli::runCli(args, env);
}
