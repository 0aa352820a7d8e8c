// sluice-operator: the controller manager.
//
// Connects to the apiserver (kubeconfig or in-cluster), optionally elects a
// leader over a Lease, and runs the controller manager until SIGTERM/SIGINT,
// releasing the Lease on the way out. It runs the controllers of
// operator/controllers, the autoscaler loop among them, with the autoscaler's
// metrics on /metrics when --metrics-bind-address is given; the local platform
// arrives with its own issue; --local says so plainly and exits non-zero
// instead of pretending to run.
// `sluice-operator simulate` runs the autoscaler on a trace (operator/simulator).
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "controller/health_server.h"
#include "controller/manager.h"
#include "controllers/setup.h"
#include "kube/kube_client.h"
#include "metrics/check_metrics.h"
#include "simulator/simulator.h"
#include "sluice/version.h"

namespace {

std::string defaultIdentity() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(::getpid());
}

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

// Exit codes: 0 done, 2 bad input (the message names the file and field).
int runSimulate(const std::string& tracePath, const std::string& functionPath, const std::string& policyName,
                bool json) {
  std::string traceText;
  std::string functionText;
  if (!readFile(tracePath, traceText)) {
    std::cerr << "sluice-operator simulate: --trace: cannot read " << tracePath << "\n";
    return 2;
  }
  if (!readFile(functionPath, functionText)) {
    std::cerr << "sluice-operator simulate: --function: cannot read " << functionPath << "\n";
    return 2;
  }
  auto trace = sluice::simulator::parseTrace(traceText);
  if (!trace.isOk()) {
    std::cerr << "sluice-operator simulate: " << tracePath << ": " << trace.status().message() << "\n";
    return 2;
  }
  auto function = sluice::simulator::parseFunction(functionText);
  if (!function.isOk()) {
    std::cerr << "sluice-operator simulate: " << functionPath << ": " << function.status().message() << "\n";
    return 2;
  }
  auto policy = sluice::simulator::parsePolicy(policyName);
  if (!policy.isOk()) {
    std::cerr << "sluice-operator simulate: " << policy.status().message() << "\n";
    return 2;
  }
  sluice::simulator::SimulationResult result = sluice::simulator::simulate(*trace, *function, *policy);
  if (json) {
    std::cout << sluice::simulator::toJson(result) << "\n";
  } else {
    std::cout << "policy " << result.policy << ": replica-seconds " << result.replicaSeconds << " (+ warm pool "
              << result.warmPoolReplicaSeconds << "), latency p50 " << result.latencyP50Seconds << " s, p99 "
              << result.latencyP99Seconds << " s, backlog max " << result.backlogMax << ", scale events "
              << result.scaleEvents << "\n";
  }
  return 0;
}

// `check-metrics`: the chart's `helm test` probe.
int runCheckMetrics(const std::string& url) {
  if (auto status = sluice::metrics::checkMetricsEndpoint(url); !status.isOk()) {
    std::cerr << "sluice-operator check-metrics: " << status.message() << "\n";
    return 1;
  }
  std::cout << "sluice-operator check-metrics: " << url << " serves the operator's metrics\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-operator: runs Sluice Functions and Triggers on Kubernetes or, with --local, on this machine"};
  app.set_version_flag("--version", std::string("sluice-operator ") + sluice::kVersion);

  std::string kubeconfig;
  std::string localDir;
  std::string metricsAddress = "0.0.0.0:8080";
  std::string healthAddress = "0.0.0.0:8081";
  std::string logLevel = "info";
  bool leaderElect = false;
  std::string leaseNamespace;
  std::string leaseName = "sluice-operator-leader";
  std::string identity = defaultIdentity();
  std::string runtimeImage = std::string("sluice/runtime-python:") + sluice::kVersion;
  int workers = 4;
  std::string watchNamespace;
  app.add_option("--kubeconfig", kubeconfig, "Path to a kubeconfig; in-cluster config when empty")
      ->envname("KUBECONFIG");
  app.add_option("--local", localDir,
                 "Run Functions and Triggers from the YAML files in this directory, without Kubernetes");
  CLI::Option* metricsOption =
      app.add_option("--metrics-bind-address", metricsAddress,
                     "Address of the Prometheus /metrics endpoint (served only when this flag is given)")
          ->capture_default_str();
  CLI::Option* healthOption = app.add_option("--health-probe-bind-address", healthAddress,
                                             "Address of /healthz and /readyz (served only when this flag is given)")
                                  ->capture_default_str();
  app.add_flag("--leader-elect", leaderElect, "Elect a leader over a coordination.k8s.io Lease before reconciling");
  app.add_option("--leader-election-namespace", leaseNamespace,
                 "Namespace of the leader-election Lease (default: the kubeconfig's or service account's namespace)");
  app.add_option("--leader-election-id", leaseName, "Name of the leader-election Lease")->capture_default_str();
  app.add_option("--leader-election-identity", identity, "This replica's identity in the Lease (default: host_pid)");
  int defaultWarmPoolSize = 0;
  app.add_option("--default-warm-pool-size", defaultWarmPoolSize,
                 "Warm runtime pods per namespace and image for Functions that set no spec.scaling.warmPool.size")
      ->envname("SLUICE_DEFAULT_WARM_POOL_SIZE")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--runtime-image", runtimeImage, "Image of replica pods whose Function sets no spec.image")
      ->envname("SLUICE_RUNTIME_IMAGE")
      ->capture_default_str();
  app.add_option("--watch-namespace", watchNamespace,
                 "Manage Functions and Triggers of this namespace only (default: all namespaces)");
  app.add_option("--workers", workers, "Concurrent reconciles per controller")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--log-level", logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();

  std::string tracePath;
  std::string functionPath;
  std::string policyName = "sluice";
  bool simulateJson = false;
  CLI::App* simulate = app.add_subcommand(
      "simulate", "Run the autoscaler on an arrival trace with a simulated clock and report cost and latency");
  simulate->add_option("--trace", tracePath, "TRACE.json: service rate, start times, warm pool, partitions, arrivals")
      ->required();
  simulate->add_option("--function", functionPath, "FUNCTION.yaml: a sluice.io/v1alpha1 Function (+ its Trigger)")
      ->required();
  simulate->add_option("--policy", policyName, "sluice, keda-default or static-peak")->capture_default_str();
  simulate->add_flag("--json", simulateJson, "Print the result as JSON, with the replica count per second");

  std::string checkUrl;
  CLI::App* checkMetrics =
      app.add_subcommand("check-metrics", "Exit 0 when URL serves the operator's Prometheus metrics (helm test)");
  checkMetrics->add_option("--url", checkUrl, "The /metrics URL, e.g. http://sluice-metrics:8080/metrics")->required();

  CLI11_PARSE(app, argc, argv);

  if (simulate->parsed()) return runSimulate(tracePath, functionPath, policyName, simulateJson);
  if (checkMetrics->parsed()) return runCheckMetrics(checkUrl);

  if (auto status = sluice::setLogLevel(logLevel); !status.isOk()) {
    std::cerr << "sluice-operator: --log-level: " << status.message() << "\n";
    return 2;
  }
  if (!localDir.empty()) {
    std::cerr << "sluice-operator " << sluice::kVersion
              << ": --local (the embedded platform) is not implemented in this build yet; see --help\n";
    return 3;
  }

  // SIGTERM/SIGINT are taken by one thread with sigwait(), so every other
  // thread (cpprestsdk's included) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // /metrics only when asked for: concurrent operators in tests would fight over one default port.
  // Started after the signal mask is set, so its threads inherit it.
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  if (metricsOption->count() > 0) {
    std::string address =
        !metricsAddress.empty() && metricsAddress[0] == ':' ? "0.0.0.0" + metricsAddress : metricsAddress;
    try {
      exposer = std::make_unique<prometheus::Exposer>(address);
    } catch (const std::exception& e) {
      std::cerr << "sluice-operator: --metrics-bind-address " << address << ": " << e.what() << "\n";
      return 2;
    }
    exposer->RegisterCollectable(registry);
    SLUICE_LOG_INFO("sluice-operator: serving /metrics on {}", address);
  }

  std::unique_ptr<sluice::controller::HealthServer> health;
  if (healthOption->count() > 0) {
    health = std::make_unique<sluice::controller::HealthServer>(healthAddress);
    if (auto status = health->start(); !status.isOk()) {
      std::cerr << "sluice-operator: --health-probe-bind-address: " << status.toString() << "\n";
      return 2;
    }
  }

  std::stop_source stop;
  std::jthread signalThread([&] {
    int received = 0;
    sigwait(&signals, &received);
    SLUICE_LOG_INFO("sluice-operator: received signal {}, shutting down", received);
    stop.request_stop();
  });

  auto& clock = sluice::realClock();
  auto connected = sluice::kube::connect(kubeconfig, clock);
  int exitCode = 0;
  if (!connected) {
    std::cerr << "sluice-operator: " << connected.status().toString() << "\n";
    exitCode = 1;
  } else {
    SLUICE_LOG_INFO("sluice-operator {}: using {} at {}", sluice::kVersion, connected->config.origin,
                    connected->config.server);
    sluice::controller::ManagerOptions options;
    if (leaderElect) {
      sluice::controller::LeaderElectionConfig election;
      election.ns = leaseNamespace.empty() ? connected->config.defaultNamespace : leaseNamespace;
      election.name = leaseName;
      election.identity = identity;
      options.leaderElection = election;
    }
    sluice::controller::Manager manager(*connected->client, clock, options);
    sluice::controllers::Controllers controllers(
        manager, {runtimeImage, workers, watchNamespace, registry, defaultWarmPoolSize}, clock);
    if (exposer) exposer->RegisterCollectable(controllers.stateMetrics());
    exitCode = manager.run(stop.get_token());
    // The collector reads the Manager's caches: detach it (waiting out a scrape in progress) before they go.
    if (exposer) exposer->RemoveCollectable(controllers.stateMetrics());
  }
  // Wake the signal thread if we are leaving on our own.
  if (!stop.stop_requested()) pthread_kill(signalThread.native_handle(), SIGTERM);
  signalThread.join();
  return exitCode;
}
