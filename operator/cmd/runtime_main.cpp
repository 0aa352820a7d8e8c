// sluice-runtime: the process inside every function replica.
//
// Parses its flags and prints --help / --version. Sources, handlers and sinks
// arrive with the runtime issue; until then the binary says so plainly and
// exits non-zero instead of pretending to process events.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "sluice/version.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice-runtime: a Sluice function replica (sources -> handler -> sinks)"};
  app.set_version_flag("--version", std::string("sluice-runtime ") + sluice::kVersion);

  std::string configPath;
  std::string controlAddress = "0.0.0.0:8090";
  std::string logLevel = "info";
  bool warm = false;
  app.add_option("--config", configPath, "Function configuration file (JSON or YAML) rendered by the operator")
      ->envname("SLUICE_CONFIG");
  app.add_option("--control-bind-address", controlAddress,
                 "Address of /healthz, /readyz, /metrics, /specialize, /drain, /invoke")
      ->capture_default_str();
  app.add_flag("--warm", warm, "Start without a function and wait for /specialize");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (auto status = sluice::setLogLevel(logLevel); !status.isOk()) {
    std::cerr << "sluice-runtime: --log-level: " << status.message() << "\n";
    return 2;
  }
  std::cerr << "sluice-runtime " << sluice::kVersion
            << ": the replica runtime is not implemented in this build yet; see --help\n";
  return 3;
}
