// sluice-gateway: the HTTP front door of Functions with an http Trigger.
//
// Watches Functions, Triggers and replica Pods (kubeconfig or in-cluster) and
// serves `<method> /<namespace>/<function><path>` (and, with --domain,
// `Host: <function>.<namespace>.<domain>`) on --listen-address,
// balancing over each Function's Ready replicas and holding requests while a
// Function wakes from zero (operator/gateway). /healthz, /readyz, /metrics and
// /loads are on --admin-address. Runs until SIGTERM/SIGINT, then stops taking
// requests and lets those in progress finish.
#include <pthread.h>

#include <csignal>
#include <iostream>
#include <string>

#include <prometheus/registry.h>
#include <CLI/CLI.hpp>

#include "api/pods.h"
#include "common/clock.h"
#include "common/crash_report.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/signals.h"
#include "common/tokens.h"
#include "gateway/async_invoker.h"
#include "gateway/async_targets.h"
#include "gateway/beast_upstream.h"
#include "gateway/broker_invocation_queue.h"
#include "gateway/dispatcher.h"
#include "gateway/gateway.h"
#include "gateway/route_table.h"
#include "http/io_pool.h"
#include "kube/informer.h"
#include "kube/kube_client.h"
#include "sluice/version.h"
#include "spec/resources.h"

namespace {

struct GatewayFlags {
  std::string kubeconfig;
  std::string watchNamespace;
  std::string logLevel = "info";
  sluice::gateway::GatewayOptions options;
  sluice::gateway::DispatcherOptions dispatch;
  int requestTimeoutSeconds = 60;
  int replicaPort = sluice::api::kDataPort;
  std::string invokeKeyDir;
  sluice::gateway::BeastUpstreamOptions upstream;
};

void addFlags(CLI::App& app, GatewayFlags& f) {
  app.add_option("--kubeconfig", f.kubeconfig, "Path to a kubeconfig; in-cluster config when empty")
      ->envname("KUBECONFIG");
  app.add_option("--watch-namespace", f.watchNamespace,
                 "Route Functions of these namespaces only, comma-separated (default: all)");
  app.add_option("--listen-address", f.options.listenAddress, "Address of the public HTTP listener")
      ->capture_default_str();
  app.add_option("--domain", f.options.domain,
                 "Also route Host <function>.<namespace>.<domain> (any path) to that Function; empty: path routes only")
      ->capture_default_str();
  app.add_option("--admin-address", f.options.adminAddress, "Address of /healthz, /readyz, /metrics and /loads")
      ->capture_default_str();
  app.add_option("--max-body-bytes", f.options.maxBodyBytes, "Larger request bodies are refused with 413")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--queue-limit", f.dispatch.queueLimit,
                 "Requests one Function may have waiting for a replica; more are refused with 503")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--request-timeout-seconds", f.requestTimeoutSeconds,
                 "From reading a request to the replica's answer, queueing included; then 504")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--threads", f.options.threads,
                 "Event loops (one thread each) serving connections and their calls to replicas")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--replica-port", f.replicaPort, "Port on which replicas take invocations (their data port)")
      ->capture_default_str();
  app.add_option("--invoke-key-dir", f.invokeKeyDir,
                 "Folder with the invoke master key (file key, and previous while a new key rolls out), the "
                 "operator's: each request carries its namespace's token derived from it")
      ->envname("SLUICE_INVOKE_KEY_DIR");
  app.add_option("--replica-keep-alive", f.upstream.idleConnectionsPerReplica,
                 "Idle kept-alive connections per replica and event loop (0: a new connection per request)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();
}

// The log level and the invoke keys; exit code 2 on a mistake (said on stderr), else 0.
int settle(GatewayFlags& f) {
  f.dispatch.requestTimeout = std::chrono::seconds(f.requestTimeoutSeconds);
  if (auto status = sluice::setLogLevel(f.logLevel); !status.isOk()) {
    std::cerr << "sluice-gateway: --log-level: " << status.message() << "\n";
    return 2;
  }
  if (f.invokeKeyDir.empty()) {
    SLUICE_LOG_WARN("no --invoke-key-dir: replicas will refuse every request (401)");
    return 0;
  }
  auto keys = sluice::InvokeKeyRing::open(f.invokeKeyDir);
  if (!keys.isOk()) {
    std::cerr << "sluice-gateway: --invoke-key-dir: " << keys.status().message() << "\n";
    return 2;
  }
  f.options.invokeKeys = *keys;
  return 0;
}

// Routes Functions until SIGTERM/SIGINT; the process's exit code.
int serve(GatewayFlags& f, sigset_t& signals) {
  auto& clock = sluice::realClock();
  auto connected = sluice::kube::connect(f.kubeconfig, clock);
  if (!connected) {
    std::cerr << "sluice-gateway: " << connected.status().toString() << "\n";
    return 1;
  }
  SLUICE_LOG_INFO("sluice-gateway {}: using {} at {}", sluice::kVersion, connected->config.origin,
                  connected->config.server);
  sluice::kube::InformerOptions scope;
  scope.ns = f.watchNamespace;
  sluice::kube::InformerOptions podScope = scope;
  podScope.labelSelector = std::string(sluice::api::kManagedBySelector) + "," + sluice::api::kRoleLabel + "=replica";
  podScope.transform = sluice::api::trimPodForCache;
  sluice::kube::Informer functions(*connected->client, sluice::spec::kFunctions, scope, clock);
  sluice::kube::Informer triggers(*connected->client, sluice::spec::kTriggers, scope, clock);
  sluice::kube::Informer pods(*connected->client, sluice::kube::resources::kPods, podScope, clock);

  // One set of event loops for the public listener and the calls to replicas: a request is read, forwarded,
  // answered and written back on one thread (http/io_pool.h).
  sluice::http::IoPool loops(f.options.threads, "gateway");
  f.options.ioPool = &loops;
  sluice::gateway::BeastUpstream upstream(f.upstream, &loops);
  sluice::gateway::Dispatcher dispatcher(f.dispatch, upstream, clock);
  sluice::gateway::RouteTable routes(dispatcher, functions, triggers, pods, f.replicaPort);
  auto registry = std::make_shared<prometheus::Registry>();
  sluice::gateway::Gateway gateway(
      f.options, dispatcher, [&routes](const std::string& key) { return routes.triggerOf(key); },
      [&] {
        if (!functions.hasSynced() || !triggers.hasSynced() || !pods.hasSynced())
          return std::string("routes not loaded yet");
        return std::string();
      },
      registry);
  // Asynchronous invocations: kept in the queue each Trigger's spec.http.async names.
  sluice::gateway::AsyncTargets asyncTargets(triggers, *connected->client, clock);
  sluice::gateway::BrokerInvocationQueue invocationQueue;
  sluice::gateway::AsyncInvoker asyncInvoker(
      [&asyncTargets](const std::string& ns, const std::string& trigger) { return asyncTargets.lookup(ns, trigger); },
      invocationQueue, [] { return sluice::randomHexToken(16); }, f.options.retryAfterSeconds);
  gateway.setAsyncInvoker(&asyncInvoker);
  functions.start();
  triggers.start();
  pods.start();
  if (auto status = gateway.start(); !status.isOk()) {
    std::cerr << "sluice-gateway: " << status.toString() << "\n";
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  SLUICE_LOG_INFO("sluice-gateway: received signal {}, stopping", received);
  gateway.stop();
  // No call completes after this, so none reaches the Dispatcher as it goes.
  loops.stop();
  pods.stop();
  triggers.stop();
  functions.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::installCrashReport();
  CLI::App app{"sluice-gateway: HTTP URLs for Sluice Functions, from zero, balanced over their replicas"};
  app.set_version_flag("--version", std::string("sluice-gateway ") + sluice::kVersion);
  GatewayFlags flags;
  addFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (int code = settle(flags); code != 0) return code;
  sigset_t signals = sluice::blockStopSignals();
  return serve(flags, signals);
}
