// sluice-operator: the controller manager.
//
// Parses its flags and prints --help / --version. The controllers, autoscaler
// and local platform arrive with their own issues; until then the binary says
// so plainly and exits non-zero instead of pretending to run.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "sluice/version.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice-operator: runs Sluice Functions and Triggers on Kubernetes or, with --local, on this machine"};
  app.set_version_flag("--version", std::string("sluice-operator ") + sluice::kVersion);

  std::string kubeconfig;
  std::string localDir;
  std::string metricsAddress = "0.0.0.0:8080";
  std::string healthAddress = "0.0.0.0:8081";
  std::string logLevel = "info";
  bool leaderElect = false;
  app.add_option("--kubeconfig", kubeconfig, "Path to a kubeconfig; in-cluster config when empty")
      ->envname("KUBECONFIG");
  app.add_option("--local", localDir,
                 "Run Functions and Triggers from the YAML files in this directory, without Kubernetes");
  app.add_option("--metrics-bind-address", metricsAddress, "Address of the Prometheus /metrics endpoint")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", healthAddress, "Address of /healthz and /readyz")
      ->capture_default_str();
  app.add_flag("--leader-elect", leaderElect, "Elect a leader over a coordination.k8s.io Lease before reconciling");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (auto status = sluice::setLogLevel(logLevel); !status.isOk()) {
    std::cerr << "sluice-operator: --log-level: " << status.message() << "\n";
    return 2;
  }
  std::cerr << "sluice-operator " << sluice::kVersion
            << ": the controller manager is not implemented in this build yet; see --help\n";
  return 3;
}
