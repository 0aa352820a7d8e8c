// sluice-operator: the controller manager.
//
// Connects to the apiserver (kubeconfig or in-cluster), optionally elects a
// leader over a Lease, and runs the controller manager until SIGTERM/SIGINT,
// releasing the Lease on the way out. It runs the controllers of
// operator/controllers, the autoscaler loop among them, with the autoscaler's
// metrics on /metrics when --metrics-bind-address is given.
// `sluice-operator --local DIR` runs the same autoscaler without Kubernetes:
// Functions and Triggers come from DIR's YAML and replicas are child
// sluice-runtime processes (operator/platform/local): the same Manager and
// controllers over an in-memory apiserver (operator/kube/memory,
// operator/local), and the HTTP gateway (operator/gateway) gives Functions
// with an http Trigger a URL.
// `sluice-operator simulate` runs the autoscaler on a trace (operator/simulator).
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <CLI/CLI.hpp>

#include "admission/admission_webhook.h"
#include "api/v1alpha1/semantics.h"
#include "autoscaler/warm_pool_sizer.h"
#include "common/clock.h"
#include "common/crash_report.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/signals.h"
#include "common/tokens.h"
#include "controllers/autoscaler/gateway_endpoints.h"
#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "controllers/setup.h"
#include "controllers/trigger/cron_firer.h"
#include "gateway/async_invoker.h"
#include "gateway/async_targets.h"
#include "gateway/beast_upstream.h"
#include "gateway/broker_invocation_queue.h"
#include "gateway/dispatcher.h"
#include "gateway/gateway.h"
#include "gateway/route_table.h"
#include "http/http_client.h"
#include "kube/informer.h"
#include "kube/kube_client.h"
#include "kube/memory/in_memory_resource_client.h"
#include "localmode/local_operator.h"
#include "localmode/manifests.h"
#include "metrics/check_metrics.h"
#include "metrics/kube_client_metrics.h"
#include "metrics/metrics_server.h"
#include "platform/kube/authority_secret.h"
#include "platform/kube/kube_platform_setup.h"
#include "platform/local/local_platform.h"
#include "python_syntax/python_syntax.h"
#include "reconcile/health_server.h"
#include "reconcile/manager.h"
#include "simulator/simulator.h"
#include "sluice/version.h"
#include "spec/resources.h"
#include "tls/certificate_authority.h"

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

// `simulate --functions N`: N Functions on one warm pool (simulator::simulateSharedPool).
struct SharedPoolFlags {
  int functions = 0;  // 0: one Function, no shared pool
  double staggerSeconds = 0;
  std::string sizing = "demand";
  int warmPool = -1;  // --warm-pool: in place of the trace's warm_pool (-1: the trace's)
  sluice::autoscaler::WarmPoolSizing demand{300, 0, 0, 5};  // pod start 0: the trace's cold start
};

int runSharedPool(const sluice::simulator::Trace& trace, const sluice::simulator::SimulatedFunction& function,
                  const SharedPoolFlags& flags) {
  sluice::simulator::SharedPoolRun run;
  run.functions = flags.functions;
  run.staggerSeconds = flags.staggerSeconds;
  run.sizing = flags.sizing == "fixed" ? sluice::simulator::PoolSizing::kFixed : sluice::simulator::PoolSizing::kDemand;
  run.demand = flags.demand;
  if (run.demand.podStartSeconds <= 0) run.demand.podStartSeconds = trace.coldStartSeconds;
  if (std::string error; run.sizing == sluice::simulator::PoolSizing::kDemand &&
                         !sluice::autoscaler::validWarmPoolSizing(run.demand, &error)) {
    std::cerr << "sluice-operator simulate: " << error << "\n";
    return 2;
  }
  std::cout << sluice::simulator::toJson(sluice::simulator::simulateSharedPool(trace, function, run)) << "\n";
  return 0;
}

// Exit codes: 0 done, 2 bad input (the message names the file and field).
int runSimulate(const std::string& tracePath, const std::string& functionPath, const std::string& policyName, bool json,
                const SharedPoolFlags& shared) {
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
  if (shared.warmPool >= 0) trace->warmPool = shared.warmPool;
  if (shared.functions > 0) return runSharedPool(*trace, *function, shared);
  sluice::simulator::SimulationResult result = sluice::simulator::simulate(*trace, *function, *policy);
  if (json) {
    std::cout << sluice::simulator::toJson(result) << "\n";
  } else {
    std::cout << "policy " << result.policy << ": replica-seconds " << result.replicaSeconds << " (+ warm pool "
              << result.warmPoolReplicaSeconds << "), latency p50 " << result.latencyP50Seconds << " s, p99 "
              << result.latencyP99Seconds << " s, backlog max " << result.backlogMax << ", scale events "
              << result.scaleEvents << ", metric " << result.metric << ", burst " << result.burstSeconds << " s\n";
  }
  return 0;
}

struct SimulateFlags {
  std::string tracePath;
  std::string functionPath;
  std::string policyName = "sluice";
  bool json = false;
  SharedPoolFlags shared;
};

// The `simulate` subcommand and its flags.
CLI::App* addSimulateCommand(CLI::App& app, SimulateFlags& f) {
  CLI::App* simulate = app.add_subcommand(
      "simulate", "Run the autoscaler on an arrival trace with a simulated clock and report cost and latency");
  simulate->add_option("--trace", f.tracePath, "TRACE.json: service rate, start times, warm pool, partitions, arrivals")
      ->required();
  simulate->add_option("--function", f.functionPath, "FUNCTION.yaml: a sluice.io/v1alpha1 Function (+ its Trigger)")
      ->required();
  simulate->add_option("--policy", f.policyName, "sluice, keda-default or static-peak")->capture_default_str();
  simulate->add_flag("--json", f.json, "Print the result as JSON, with the replica count per second");
  simulate
      ->add_option("--functions", f.shared.functions,
                   "N copies of the Function (policy sluice) on one warm pool; prints the pool's JSON")
      ->check(CLI::Range(1, 1000));
  simulate->add_option("--stagger-seconds", f.shared.staggerSeconds, "--functions: copy i's trace rotated by i x this")
      ->check(CLI::Range(0.0, 1e9));
  simulate
      ->add_option("--warm-pool", f.shared.warmPool,
                   "Warm pool pods in place of the trace's warm_pool (the chart's default is 0)")
      ->check(CLI::Range(0, 1000));
  simulate->add_option("--pool", f.shared.sizing, "--functions: fixed (the trace's warm_pool) or demand")
      ->check(CLI::IsMember({"fixed", "demand"}))
      ->capture_default_str();
  simulate->add_option("--pool-floor", f.shared.demand.floor, "--pool demand: --warm-pool-floor")
      ->capture_default_str();
  simulate->add_option("--pool-ceiling", f.shared.demand.ceiling, "--pool demand: --warm-pool-ceiling")
      ->capture_default_str();
  simulate
      ->add_option("--pool-window-seconds", f.shared.demand.windowSeconds, "--pool demand: --warm-pool-window-seconds")
      ->capture_default_str();
  simulate
      ->add_option("--pool-pod-start-seconds", f.shared.demand.podStartSeconds,
                   "--pool demand: --warm-pool-pod-start-seconds (0: the trace's cold_start_seconds)")
      ->capture_default_str();
  return simulate;
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

// sluice-runtime next to this binary (build/ and an installed bin/ alike).
std::string siblingRuntime() {
  char self[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "sluice-runtime" : path.substr(0, slash + 1) + "sluice-runtime";
}

struct LocalFlags {
  std::string dir;
  std::string stateDir;
  std::string runtimeBinary;
  int warmPool = 1;
  int drainGraceSeconds = 10;
  std::string logLevel;
  std::string gatewayAddress = "127.0.0.1:8088";  // empty: no gateway
};

// --local DIR --check: exit codes 0 valid, 2 errors (each with file, line and field).
int checkManifests(const std::string& dir) {
  int objects = 0;
  int errors = 0;
  for (const std::string& path : sluice::localmode::manifestPaths(dir)) {
    sluice::localmode::ManifestFile file =
        sluice::localmode::loadManifestFile(path, sluice::api::v1alpha1::CrdValidator::builtin());
    for (const std::string& error : file.errors) std::cout << error << "\n";
    objects += static_cast<int>(file.objects.size());
    errors += static_cast<int>(file.errors.size());
  }
  if (errors > 0) {
    std::cout << dir << ": " << errors << " error(s)\n";
    return 2;
  }
  std::cout << dir << ": " << objects << " object(s), no errors\n";
  return 0;
}

// The gateway under --local, as on Kubernetes but over the Functions' ready
// processes: the routes are refreshed after every platform round, and the
// http scaler reads its /loads (on an ephemeral loopback port) to wake a
// Function from zero. Asynchronous invocations take the cluster's path: kept
// in the broker the Trigger's spec.http.async names (its Secrets read from
// the manifests of DIR, as the processes' are), consumed by the local
// replicas. Lives as long as the LocalOperator.
class LocalGateway {
 public:
  // `invokeToken`: the one /invoke token every local runtime process accepts;
  // `secrets`: the in-memory store holding DIR's Secrets.
  LocalGateway(sluice::reconcile::Manager& manager, const sluice::platform::LocalPlatform& platform,
               sluice::kube::ResourceClient& secrets, sluice::Clock& clock, std::string invokeToken)
      : invokeToken_(std::move(invokeToken)),
        dispatcher_(sluice::gateway::DispatcherOptions{}, upstream_, clock),
        routes_(dispatcher_, manager.informer(sluice::spec::kFunctions), manager.informer(sluice::spec::kTriggers),
                [&platform](const std::string& ns, const std::string& function) {
                  std::vector<sluice::gateway::Replica> replicas;
                  for (const auto& process : platform.readyReplicas(sluice::kube::objectKey(ns, function))) {
                    replicas.push_back(
                        {"process " + std::to_string(process.pid), "127.0.0.1:" + std::to_string(process.port)});
                  }
                  return replicas;
                }),
        asyncTargets_(manager.informer(sluice::spec::kTriggers), secrets, clock),
        asyncInvoker_(
            [this](const std::string& ns, const std::string& trigger) { return asyncTargets_.lookup(ns, trigger); },
            invocationQueue_, [] { return sluice::randomHexToken(16); }) {}

  // Serves on `address` (host:port); gives the controllers its URL (status.url)
  // and /loads, and the operator the route refresh.
  sluice::Status start(const std::string& address, const std::shared_ptr<prometheus::Registry>& registry,
                       sluice::controllers::ControllersOptions& controllers, std::function<void()>& afterRound) {
    sluice::gateway::GatewayOptions options;
    options.listenAddress = address;
    options.invokeToken = invokeToken_;
    options.adminAddress = "127.0.0.1:0";
    gateway_ = std::make_unique<sluice::gateway::Gateway>(
        options, dispatcher_, [this](const std::string& key) { return routes_.triggerOf(key); },
        [] { return std::string(); }, registry);
    gateway_->setAsyncInvoker(&asyncInvoker_);
    if (auto status = gateway_->start(); !status.isOk()) return status;
    std::string host = address.substr(0, address.rfind(':'));
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    controllers.gatewayUrl = "http://" + host + ":" + std::to_string(gateway_->port());
    afterRound = [this] { routes_.refreshAll(); };
    controllers.gatewayLoadsUrls = [loads = "http://127.0.0.1:" + std::to_string(gateway_->adminPort()) + "/loads"] {
      return std::vector<std::string>{loads};
    };
    SLUICE_LOG_INFO("sluice-operator: the gateway serves {}/<namespace>/<function>", controllers.gatewayUrl);
    return sluice::Status::ok();
  }

  void stop() {
    if (gateway_) gateway_->stop(std::chrono::seconds(1));
  }

 private:
  const std::string invokeToken_;
  sluice::gateway::BeastUpstream upstream_{sluice::gateway::BeastUpstreamOptions{}};
  sluice::gateway::Dispatcher dispatcher_;
  sluice::gateway::RouteTable routes_;
  sluice::gateway::AsyncTargets asyncTargets_;
  sluice::gateway::BrokerInvocationQueue invocationQueue_;
  sluice::gateway::AsyncInvoker asyncInvoker_;
  std::unique_ptr<sluice::gateway::Gateway> gateway_;
};

// The LocalPlatform's options from the flags, with fresh tokens; the tokens
// go to the environment the children inherit (they scrub them before any
// handler runs). An error when no random tokens could be made.
sluice::Result<sluice::platform::LocalPlatformOptions> localPlatformOptions(const LocalFlags& flags,
                                                                            const std::string& runtime) {
  sluice::platform::LocalPlatformOptions options;
  options.runtimeBinary = runtime;
  // Configurations of cold-started replicas; by default a private directory
  // removed on the way out, so DIR (often a source tree) stays untouched.
  options.stateDir =
      flags.stateDir.empty()
          ? (std::filesystem::temp_directory_path() / ("sluice-local-" + std::to_string(::getpid()))).string()
          : flags.stateDir;
  auto token = sluice::randomHexToken(24);
  if (!token) return token.status();
  options.token = *token;
  auto invokeToken = sluice::randomHexToken(24);
  if (!invokeToken) return invokeToken.status();
  options.invokeToken = *invokeToken;
  options.warmPoolSize = flags.warmPool;
  options.drainGrace = std::chrono::seconds(flags.drainGraceSeconds);
  options.logLevel = flags.logLevel;
  ::setenv(sluice::kControlTokenEnv, options.token.c_str(), 1);
  ::setenv(sluice::kInvokeTokenEnv, options.invokeToken.c_str(), 1);
  return options;
}

// --local's console: the Events the controllers record.
void logEvent(const nlohmann::json& event) {
  SLUICE_LOG_INFO("event: {} {}/{}: {}: {}", event.value("/involvedObject/kind"_json_pointer, std::string()),
                  event.value("/involvedObject/namespace"_json_pointer, std::string()),
                  event.value("/involvedObject/name"_json_pointer, std::string()), event.value("reason", ""),
                  event.value("message", ""));
}

// The in-memory apiserver of --local: Events to the console, and a bounded
// history (a watch that falls that far behind relists).
sluice::kube::InMemoryResourceClientOptions localStoreOptions() {
  sluice::kube::InMemoryResourceClientOptions options;
  options.eventObserver = logEvent;
  options.historyLimit = 4096;
  options.uidPrefix = "local-";
  return options;
}

// --local: the Manager and every controller over the in-memory apiserver, with
// the LocalPlatform as their Platform. Exit codes 0 stopped by a signal, 1 could not start.
int runLocal(const LocalFlags& flags, const std::shared_ptr<prometheus::Registry>& registry,
             sluice::metrics::MetricsServer* metricsServer, std::stop_source& stop) {
  std::error_code ec;
  if (!std::filesystem::is_directory(flags.dir, ec)) {
    std::cerr << "sluice-operator: --local: " << flags.dir << " is not a directory\n";
    return 1;
  }
  const std::string runtime = flags.runtimeBinary.empty() ? siblingRuntime() : flags.runtimeBinary;
  if (::access(runtime.c_str(), X_OK) != 0) {
    std::cerr << "sluice-operator: --runtime-binary: " << runtime << " is not an executable\n";
    return 1;
  }
  auto platformOptions = localPlatformOptions(flags, runtime);
  if (!platformOptions) {
    std::cerr << "sluice-operator: --local: " << platformOptions.status().toString() << "\n";
    return 1;
  }
  auto& clock = sluice::realClock();
  sluice::platform::PosixProcessRunner processes;
  sluice::platform::HttpRuntimeEndpoint endpoint(platformOptions->invokeToken);
  sluice::kube::InMemoryResourceClient store(clock, localStoreOptions());
  // The platform is chosen here: under --local, replicas are child processes.
  sluice::platform::LocalPlatform platform(*platformOptions, processes, endpoint, clock, registry, &store);
  sluice::reconcile::Manager manager(store, clock, {});
  sluice::controllers::ControllersOptions controllerOptions;
  controllerOptions.metricsRegistry = registry;
  sluice::localmode::LocalOperatorOptions operatorOptions;
  operatorOptions.dir = flags.dir;
  LocalGateway gateway(manager, platform, store, clock, platformOptions->invokeToken);
  if (!flags.gatewayAddress.empty()) {
    auto status = gateway.start(flags.gatewayAddress, registry, controllerOptions, operatorOptions.afterRound);
    if (!status.isOk()) {
      std::cerr << "sluice-operator: --gateway-listen-address " << flags.gatewayAddress << ": " << status.toString()
                << "\n";
      return 1;
    }
  }
  sluice::reconcile::Expectations expectations(clock);
  sluice::reconcile::EventRecorder events(store, "sluice-operator", clock);
  sluice::platform::ControlTokens tokens(store, {}, clock);
  sluice::controllers::Controllers controllers(manager, controllerOptions, {platform, expectations, events, tokens},
                                               clock);
  if (metricsServer) metricsServer->add(controllers.stateMetrics());
  sluice::localmode::LocalOperator local(operatorOptions, store, manager, controllers, platform, clock);
  SLUICE_LOG_INFO("sluice-operator {}: running {} locally (runtime {}, warm pool {})", sluice::kVersion, flags.dir,
                  runtime, flags.warmPool);
  (void)local.run(stop.get_token());
  if (metricsServer) metricsServer->remove(controllers.stateMetrics());
  gateway.stop();
  if (flags.stateDir.empty()) std::filesystem::remove_all(platformOptions->stateDir, ec);
  return 0;
}

// The flags of the operator proper (not of its subcommands).
struct OperatorFlags {
  std::string kubeconfig;
  std::string localDir;
  std::string metricsAddress = "0.0.0.0:8080";
  std::string healthAddress = "0.0.0.0:8081";
  std::string logLevel = "info";
  bool leaderElect = false;
  std::string leaseNamespace;
  std::string leaseName = "sluice-operator-leader";
  std::string identity = defaultIdentity();
  // Sharding (reconcile/shard_elector.h): S bucket Leases instead of the one; the Lease timings of both.
  int shards = 1;
  int shardReplicas = 1;
  int leaseDurationSeconds = 15;
  int renewDeadlineSeconds = 10;
  int retryPeriodSeconds = 2;
  std::string runtimeImage = std::string("sluice/runtime-python:") + sluice::kVersion;
  int workers = 4;
  sluice::kube::TransportOptions kubeApi;  // --kube-api-qps / --kube-api-burst
  std::string watchNamespace;
  LocalFlags local;
  bool localCheck = false;
  int defaultWarmPoolSize = 0;
  // --warm-pool-floor, --warm-pool-ceiling, --warm-pool-window-seconds, --warm-pool-pod-start-seconds
  sluice::autoscaler::WarmPoolSizing warmPoolSizing;
  sluice::platform::DefaultMemory defaultMemory{"256Mi", "1Gi"};
  std::string gatewayUrl;
  std::string gatewayDomain;
  std::vector<std::string> gatewayLoadsUrls;
  std::string gatewayService;  // NAMESPACE/NAME
  bool noGatewayActivationFeed = false;
  int atZeroCheckIntervalMs = 0;
  std::vector<std::string> scalerEndpointAllow;
  sluice::scalers::EndpointAllowList allowedEndpoints;  // parsed from scalerEndpointAllow
  uint64_t maxScalerResponseBytes = sluice::controllers::TriggerScalerFactoryOptions::kDefaultMaxScalerResponseBytes;
  std::string invokeKeyDir;    // the mounted Secret sluice-invoke-key
  int tokenRotationHours = 0;  // 0: control tokens rotate only on demand
  int tokenResyncSeconds = 10;
  std::string controlCaSecret;           // NAMESPACE/NAME of the control CA
  std::string controlCaDir;              // or a folder (out of cluster, tests)
  std::string webhookAddress;            // host:port of the admission webhook; "": not served
  std::string webhookCaSecret;           // NAMESPACE/NAME of its CA
  std::string webhookDnsName;            // the name its certificate carries
  std::string webhookConfiguration;      // the ValidatingWebhookConfiguration whose caBundle it keeps
  CLI::Option* metricsOption = nullptr;  // given: serve /metrics
  CLI::Option* healthOption = nullptr;   // given: serve /healthz and /readyz
};

// The flags of the tokens that guard replicas (docs/trust.md).
void addTokenFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--invoke-key-dir", f.invokeKeyDir,
                 "Folder with the invoke master key (file key, and previous while a new key rolls out): replicas "
                 "accept /invoke only with the tokens derived from it (the gateway mounts the same); none: "
                 "replicas refuse every /invoke")
      ->envname("SLUICE_INVOKE_KEY_DIR");
  app.add_option("--token-rotation-hours", f.tokenRotationHours,
                 "Rotate each namespace's control token this often (0: only when the Secret "
                 "sluice-control-token is annotated sluice.io/rotate)")
      ->check(CLI::Range(0, 24 * 365))
      ->capture_default_str();
  app.add_option("--token-resync-seconds", f.tokenResyncSeconds,
                 "How often each namespace's token Secret is checked: a deleted one is recreated within this time")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--control-ca-secret", f.controlCaSecret,
                 "NAMESPACE/NAME of the Secret keeping the CA of the replicas' control port (made when missing): "
                 "replicas serve /specialize, /drain, /readyz and /metrics over HTTPS with a certificate from it, "
                 "which the operator verifies");
  app.add_option("--control-ca-dir", f.controlCaDir,
                 "A folder keeping that CA instead (ca.crt, ca.key; made when missing). Neither: replicas serve "
                 "their control port over plain HTTP and the control token crosses the network in clear");
}

// The validating admission webhook (docs/admission.md).
void addWebhookFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--webhook-bind-address", f.webhookAddress,
                 "Serve the validating admission webhook for Functions and Triggers over HTTPS here (host:port; "
                 "not served when not given); needs --webhook-ca-secret and --webhook-dns-name");
  app.add_option("--webhook-ca-secret", f.webhookCaSecret,
                 "NAMESPACE/NAME of the Secret keeping the webhook's CA (made when missing, shared by the replicas)");
  app.add_option("--webhook-dns-name", f.webhookDnsName,
                 "The name in the webhook's certificate: the webhook Service's NAME.NAMESPACE.svc (or the host of "
                 "the configuration's url)");
  app.add_option("--webhook-configuration", f.webhookConfiguration,
                 "The ValidatingWebhookConfiguration whose webhooks' caBundle the operator keeps set to its CA");
}

// What the scalers may reach and read for Triggers (the operator as a deputy: SECURITY.md).
void addScalerFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--scaler-endpoint-allow", f.scalerEndpointAllow,
                 "Hosts the scalers may connect to for Triggers (repeatable or comma-separated): host, host:port "
                 "or *.domain[:port]; a Trigger naming another endpoint is not measured (default: any)")
      ->delimiter(',');
  app.add_option("--max-scaler-response-bytes", f.maxScalerResponseBytes,
                 "The most bytes of an HTTP answer a scaler reads (Prometheus, S3 listings, WebHDFS, RabbitMQ "
                 "management, replica /metrics, gateway /loads); larger answers are errors")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32))
      ->capture_default_str();
}

// Where the gateways are, and how Functions at zero hear of waiting requests.
void addGatewayFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--gateway-url", f.gatewayUrl,
                 "Public base URL of sluice-gateway: Functions with an http Trigger get status.url under it")
      ->envname("SLUICE_GATEWAY_URL");
  app.add_option("--gateway-domain", f.gatewayDomain,
                 "The gateway's --domain: status.url is <scheme>://<function>.<namespace>.<domain>")
      ->envname("SLUICE_GATEWAY_DOMAIN");
  app.add_option("--gateway-loads-url", f.gatewayLoadsUrls,
                 "A sluice-gateway /loads URL the http scaler reads (repeatable); see --gateway-service");
  app.add_option("--gateway-service", f.gatewayService,
                 "NAMESPACE/NAME of the sluice-gateway Service: the http scaler reads /loads of each of its "
                 "endpoints on the port named admin");
  app.add_flag("--no-gateway-activation-feed", f.noGatewayActivationFeed,
               "Do not long-poll the gateways' /activations: a request held at zero waits for the Function's "
               "at-zero poll of /loads (spec.scaling.activationIntervalMilliseconds)");
  app.add_option("--at-zero-check-interval-ms", f.atZeroCheckIntervalMs,
                 "Check every Function at zero this often instead of its spec.scaling.activationIntervalMilliseconds "
                 "(0: its own); the gateways' activation feed still wakes http Functions at once")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
}

// How hard the operator may press the apiserver (issue 14; chart values operator.kubeApi).
void addKubeApiFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--kube-api-qps", f.kubeApi.qps,
                 "Requests per second the operator starts at the apiserver, on average (0: no limit); it also "
                 "backs off when the apiserver answers 429, as long as its Retry-After says")
      ->check(CLI::Range(0.0, 100000.0))
      ->capture_default_str();
  app.add_option("--kube-api-burst", f.kubeApi.burst, "Requests above --kube-api-qps allowed at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
}

// The sizing of warm pools by demand (controllers/warmpool/warm_pool_demand.h).
void addWarmPoolFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--warm-pool-floor", f.warmPoolSizing.floor,
                 "Warm pods every pool keeps at least; with a floor or a ceiling each pool is sized by the starts "
                 "of its Functions (a Function's spec.scaling.warmPool.size is then a floor)")
      ->envname("SLUICE_WARM_POOL_FLOOR")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--warm-pool-ceiling", f.warmPoolSizing.ceiling,
                 "Most warm pods a pool's starts may ask for: ceil(starts per second over the window x pod start "
                 "seconds); 0: no sizing by demand")
      ->envname("SLUICE_WARM_POOL_CEILING")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--warm-pool-window-seconds", f.warmPoolSizing.windowSeconds,
                 "How far back a pool's starts count for its size")
      ->envname("SLUICE_WARM_POOL_WINDOW_SECONDS")
      ->capture_default_str();
  app.add_option("--warm-pool-pod-start-seconds", f.warmPoolSizing.podStartSeconds,
                 "Expected time for a new warm pod to be Ready (the pool holds the starts of this long)")
      ->envname("SLUICE_WARM_POOL_POD_START_SECONDS")
      ->capture_default_str();
}

// Leader election, or sharding over several Leases, and their timings.
void addLeaseFlags(CLI::App& app, OperatorFlags& f) {
  app.add_flag("--leader-elect", f.leaderElect, "Elect a leader over a coordination.k8s.io Lease before reconciling");
  app.add_option("--leader-election-namespace", f.leaseNamespace,
                 "Namespace of the leader-election Lease (default: the kubeconfig's or service account's namespace)");
  app.add_option("--leader-election-id", f.leaseName, "Name of the leader-election Lease")->capture_default_str();
  app.add_option("--leader-election-identity", f.identity, "This replica's identity in the Lease (default: host_pid)");
  app.add_option(
         "--shards", f.shards,
         "S > 1: replicas share the Functions in S buckets (fmix64(fnv1a64(namespace/name)) mod S), each with its "
         "own Lease <leader-election-id>-shard-<i>-of-<S>; every replica reconciles the buckets it holds. "
         "1: one leader (--leader-elect) or none")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--shard-replicas", f.shardReplicas,
                 "--shards: the replicas expected; each takes free buckets at once up to ceil(S / this)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--leader-election-lease-duration", f.leaseDurationSeconds,
                 "Seconds a Lease holds without renewal before another replica may take it")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  app.add_option("--leader-election-renew-deadline", f.renewDeadlineSeconds,
                 "Seconds the holder keeps trying to renew before it gives the Lease up (< lease duration)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--leader-election-retry-period", f.retryPeriodSeconds,
                 "Seconds between two attempts to take or renew a Lease (< renew deadline)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

void addOperatorFlags(CLI::App& app, OperatorFlags& f) {
  app.add_option("--kubeconfig", f.kubeconfig, "Path to a kubeconfig; in-cluster config when empty")
      ->envname("KUBECONFIG");
  app.add_option("--local", f.localDir,
                 "Run Functions and Triggers from the YAML files in this directory, without Kubernetes");
  app.add_option("--runtime-binary", f.local.runtimeBinary,
                 "--local: the sluice-runtime to start (default: the one next to this binary)");
  app.add_option("--warm-pool", f.local.warmPool, "--local: unspecialized runtime processes kept ready")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  app.add_option("--drain-grace", f.local.drainGraceSeconds,
                 "--local: seconds a replica has to finish its work when scaled down or stopped")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_flag("--check", f.localCheck,
               "--local: validate DIR's manifests as the CRDs would, print the errors and exit (2 when any)");
  app.add_option("--gateway-listen-address", f.local.gatewayAddress,
                 "--local: where the gateway serves /<namespace>/<function> (host:port, port 0 picks one; empty: no "
                 "gateway)")
      ->capture_default_str();
  app.add_option("--state-dir", f.local.stateDir,
                 "--local: where replica configurations are written (default: a private temporary directory)");
  f.metricsOption = app.add_option("--metrics-bind-address", f.metricsAddress,
                                   "Address of the Prometheus /metrics endpoint (served only when this flag is given)")
                        ->capture_default_str();
  f.healthOption = app.add_option("--health-probe-bind-address", f.healthAddress,
                                  "Address of /healthz and /readyz (served only when this flag is given)")
                       ->capture_default_str();
  addLeaseFlags(app, f);
  app.add_option("--default-warm-pool-size", f.defaultWarmPoolSize,
                 "Warm runtime pods per namespace and image for Functions that set no spec.scaling.warmPool.size")
      ->envname("SLUICE_DEFAULT_WARM_POOL_SIZE")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  addWarmPoolFlags(app, f);
  app.add_option("--default-memory-request", f.defaultMemory.request,
                 "Memory request of replica and warm pods whose Function declares no memory (\"\": none)")
      ->envname("SLUICE_DEFAULT_MEMORY_REQUEST")
      ->capture_default_str();
  app.add_option("--default-memory-limit", f.defaultMemory.limit,
                 "Memory limit of replica and warm pods whose Function declares no memory (\"\": none); the "
                 "runtime sizes its in-flight byte budget from it and restarts cleanly before reaching it")
      ->envname("SLUICE_DEFAULT_MEMORY_LIMIT")
      ->capture_default_str();
  app.add_option("--runtime-image", f.runtimeImage, "Image of replica pods whose Function sets no spec.image")
      ->envname("SLUICE_RUNTIME_IMAGE")
      ->capture_default_str();
  app.add_option("--watch-namespace", f.watchNamespace,
                 "Manage Functions and Triggers of these namespaces only, comma-separated (default: all namespaces)");
  addGatewayFlags(app, f);
  addScalerFlags(app, f);
  addTokenFlags(app, f);
  addWebhookFlags(app, f);
  addKubeApiFlags(app, f);
  app.add_option("--workers", f.workers, "Concurrent reconciles per controller")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();
}

// Serves /metrics when asked for (always with --local, on loopback unless
// told otherwise: it is how you watch it). False when it cannot.
bool serveMetrics(OperatorFlags& flags, const std::shared_ptr<prometheus::Registry>& registry,
                  std::unique_ptr<sluice::metrics::MetricsServer>& server) {
  if (!flags.localDir.empty() && flags.metricsOption->count() == 0) flags.metricsAddress = "127.0.0.1:8080";
  if (flags.metricsOption->count() == 0 && flags.localDir.empty()) return true;
  server = std::make_unique<sluice::metrics::MetricsServer>(flags.metricsAddress);
  server->add(registry);
  if (auto status = server->start(); !status.isOk()) {
    std::cerr << "sluice-operator: --metrics-bind-address: " << status.toString() << "\n";
    return false;
  }
  return true;
}

// Serves /healthz and /readyz when asked for; false when it cannot.
bool serveHealth(const OperatorFlags& flags, std::unique_ptr<sluice::reconcile::HealthServer>& health) {
  if (flags.healthOption->count() == 0) return true;
  health = std::make_unique<sluice::reconcile::HealthServer>(flags.healthAddress);
  if (auto status = health->start(); !status.isOk()) {
    std::cerr << "sluice-operator: --health-probe-bind-address: " << status.toString() << "\n";
    return false;
  }
  return true;
}

// The gateway's replicas for the http scaler: fixed --gateway-loads-url URLs,
// or the Endpoints of --gateway-service kept in an informer (returned: it
// must outlive the controllers).
std::unique_ptr<sluice::kube::Informer> watchGateway(const OperatorFlags& flags, sluice::kube::ResourceClient& client,
                                                     sluice::Clock& clock,
                                                     std::function<std::vector<std::string>()>& loadsUrls) {
  std::unique_ptr<sluice::kube::Informer> endpoints;
  if (!flags.gatewayService.empty()) {
    const size_t slash = flags.gatewayService.find('/');
    sluice::kube::InformerOptions scope;
    scope.ns = flags.gatewayService.substr(0, slash);
    scope.fieldSelector = "metadata.name=" + flags.gatewayService.substr(slash + 1);
    endpoints = std::make_unique<sluice::kube::Informer>(client, sluice::controllers::kEndpoints, scope, clock);
    endpoints->start();
  }
  if (endpoints || !flags.gatewayLoadsUrls.empty()) {
    loadsUrls = [fixed = flags.gatewayLoadsUrls, informer = endpoints.get()] {
      std::vector<std::string> urls = fixed;
      if (informer) {
        for (const auto& object : informer->cache().list()) {
          for (std::string& url : sluice::controllers::gatewayLoadsUrls(*object, "admin")) urls.push_back(url);
        }
      }
      return urls;
    };
  }
  return endpoints;
}

// The control port's CA and where it is kept; none without --control-ca-secret or --control-ca-dir.
struct ControlAuthority {
  std::unique_ptr<sluice::tls::AuthorityStore> store;
  std::unique_ptr<sluice::tls::CertificateAuthority> authority;
};

sluice::Result<ControlAuthority> controlAuthority(const OperatorFlags& flags, sluice::kube::ResourceClient& client,
                                                  sluice::Clock& clock) {
  ControlAuthority made;
  if (!flags.controlCaSecret.empty()) {
    const size_t slash = flags.controlCaSecret.find('/');
    if (slash == std::string::npos) {
      return sluice::invalidArgument("--control-ca-secret " + flags.controlCaSecret + ": expected NAMESPACE/NAME");
    }
    made.store = std::make_unique<sluice::platform::SecretAuthorityStore>(
        client, flags.controlCaSecret.substr(0, slash), flags.controlCaSecret.substr(slash + 1));
  } else if (!flags.controlCaDir.empty()) {
    made.store = std::make_unique<sluice::tls::DirectoryAuthorityStore>(flags.controlCaDir);
  } else {
    SLUICE_LOG_WARN("no --control-ca-secret or --control-ca-dir: replicas serve their control port over plain HTTP");
    return made;
  }
  made.authority = std::make_unique<sluice::tls::CertificateAuthority>(
      *made.store, sluice::tls::CertificateAuthorityOptions{}, clock);
  if (sluice::Status current = made.authority->ensureCurrent(); !current.isOk()) return current;
  return made;
}

// The admission webhook and its CA, when --webhook-bind-address is given. Every
// replica serves it, leader or not: the apiserver calls whichever the Service picks.
struct AdmissionServing {
  std::unique_ptr<sluice::platform::SecretAuthorityStore> store;
  std::unique_ptr<sluice::tls::CertificateAuthority> authority;
  std::unique_ptr<sluice::admission::AdmissionWebhook> webhook;
};

sluice::Result<AdmissionServing> serveAdmission(const OperatorFlags& flags, sluice::kube::ResourceClient& client,
                                                sluice::Clock& clock) {
  AdmissionServing made;
  if (flags.webhookAddress.empty()) return made;
  const size_t slash = flags.webhookCaSecret.find('/');
  if (slash == std::string::npos) {
    return sluice::invalidArgument("--webhook-ca-secret \"" + flags.webhookCaSecret + "\": expected NAMESPACE/NAME");
  }
  if (flags.webhookDnsName.empty()) return sluice::invalidArgument("--webhook-dns-name: required with a webhook");
  made.store = std::make_unique<sluice::platform::SecretAuthorityStore>(client, flags.webhookCaSecret.substr(0, slash),
                                                                        flags.webhookCaSecret.substr(slash + 1));
  sluice::tls::CertificateAuthorityOptions options;
  options.commonName = "sluice admission webhook CA";
  made.authority = std::make_unique<sluice::tls::CertificateAuthority>(*made.store, options, clock);
  made.webhook = std::make_unique<sluice::admission::AdmissionWebhook>(
      sluice::admission::AdmissionWebhookOptions{flags.webhookAddress, flags.webhookDnsName,
                                                 flags.webhookConfiguration},
      *made.authority, client);
  if (sluice::Status started = made.webhook->start(); !started.isOk()) {
    return started.withContext("--webhook-bind-address " + flags.webhookAddress);
  }
  return made;
}

// The controllers' options from the flags.
sluice::controllers::ControllersOptions controllerOptionsOf(
    const OperatorFlags& flags, const std::shared_ptr<prometheus::Registry>& registry,
    std::shared_ptr<sluice::controllers::WarmPoolDemand> demand) {
  sluice::controllers::ControllersOptions controllerOptions;
  controllerOptions.runtimeImage = flags.runtimeImage;
  controllerOptions.workers = flags.workers;
  controllerOptions.ns = flags.watchNamespace;
  controllerOptions.metricsRegistry = registry;
  controllerOptions.defaultWarmPoolSize = flags.defaultWarmPoolSize;
  controllerOptions.warmPoolDemand = std::move(demand);
  controllerOptions.defaultMemory = flags.defaultMemory;
  controllerOptions.gatewayUrl = flags.gatewayUrl;
  controllerOptions.allowedScalerEndpoints = flags.allowedEndpoints;
  controllerOptions.maxScalerResponseBytes = flags.maxScalerResponseBytes;
  controllerOptions.tokenResync = std::chrono::seconds(flags.tokenResyncSeconds);
  controllerOptions.gatewayDomain = flags.gatewayDomain;
  controllerOptions.gatewayActivationFeed = !flags.noGatewayActivationFeed;
  controllerOptions.atZeroCheckInterval = std::chrono::milliseconds(flags.atZeroCheckIntervalMs);
  return controllerOptions;
}

// The platform's options; its starts feed the warm pools' sizing.
sluice::platform::KubePlatformOptions platformOptionsOf(const OperatorFlags& flags,
                                                        std::shared_ptr<sluice::controllers::WarmPoolDemand> demand) {
  sluice::platform::KubePlatformOptions options{flags.runtimeImage, flags.defaultWarmPoolSize, flags.defaultMemory};
  options.onStarts = [demand = std::move(demand)](const std::string& ns, const std::string& pool, int starts,
                                                  int warm) { demand->record(ns, pool, starts, warm); };
  return options;
}

// The Lease(s): one leader (--leader-elect), or --shards buckets with their
// gauge sluice_operator_shard_buckets_held; neither: this process always runs.
void leaseOptions(const OperatorFlags& flags, const std::string& defaultNamespace,
                  const std::shared_ptr<prometheus::Registry>& registry, sluice::reconcile::ManagerOptions& options) {
  const std::string ns = flags.leaseNamespace.empty() ? defaultNamespace : flags.leaseNamespace;
  const std::chrono::seconds lease(flags.leaseDurationSeconds);
  const std::chrono::seconds renew(flags.renewDeadlineSeconds);
  const std::chrono::seconds retry(flags.retryPeriodSeconds);
  if (flags.shards > 1) {
    options.sharding = sluice::reconcile::ShardingConfig{
        flags.shards, flags.shardReplicas, ns, flags.leaseName, flags.identity, lease, renew, retry};
    auto& held = prometheus::BuildGauge()
                     .Name("sluice_operator_shard_buckets_held")
                     .Help("Buckets (of --shards) whose Lease this operator replica holds: the share it reconciles")
                     .Register(*registry)
                     .Add({{"shards", std::to_string(flags.shards)}});
    options.onBucketsHeld = [&held](int count) { held.Set(count); };
  } else if (flags.leaderElect) {
    options.leaderElection =
        sluice::reconcile::LeaderElectionConfig{ns, flags.leaseName, flags.identity, lease, renew, retry};
  }
}

// The operator on Kubernetes: exit codes 0 stopped, 1 could not connect.
int runOnKubernetes(const OperatorFlags& flags, const std::shared_ptr<prometheus::Registry>& registry,
                    sluice::metrics::MetricsServer* metricsServer, std::stop_source& stop) {
  auto& clock = sluice::realClock();
  // Throttle and retry waits end at once when the controllers stop (shutdown
  // or lost leadership: onStoppedLeading below), and are counted.
  sluice::metrics::KubeClientMetrics kubeClientMetrics(registry);
  std::stop_source kubeWaits;
  sluice::kube::TransportOptions kubeApi = flags.kubeApi;
  kubeApi.stop = kubeWaits.get_token();
  kubeApi.onWait = [&kubeClientMetrics](std::string_view cause, sluice::Clock::Duration wait) {
    kubeClientMetrics.record(cause, wait);
  };
  kubeApi.onRequest = [&kubeClientMetrics](std::string_view method, std::string_view path) {
    kubeClientMetrics.recordRequest(method, path);
  };
  auto connected = sluice::kube::connect(flags.kubeconfig, clock, kubeApi);
  if (!connected) {
    std::cerr << "sluice-operator: " << connected.status().toString() << "\n";
    return 1;
  }
  SLUICE_LOG_INFO("sluice-operator {}: using {} at {}", sluice::kVersion, connected->config.origin,
                  connected->config.server);
  sluice::reconcile::ManagerOptions options;
  options.onStoppedLeading = [&kubeWaits] { kubeWaits.request_stop(); };
  leaseOptions(flags, connected->config.defaultNamespace, registry, options);
  sluice::reconcile::Manager manager(*connected->client, clock, options);
  // The platform is chosen here: on Kubernetes, replicas are pods.
  sluice::platform::ControlTokensOptions tokenOptions;
  if (!flags.invokeKeyDir.empty()) {
    auto keys = sluice::InvokeKeyRing::open(flags.invokeKeyDir, clock);
    if (!keys.isOk()) {
      std::cerr << "sluice-operator: --invoke-key-dir: " << keys.status().message() << "\n";
      return 1;
    }
    tokenOptions.invokeKeys = *keys;
  } else {
    SLUICE_LOG_WARN("no --invoke-key-dir: replicas will refuse every /invoke (cron ticks and the gateway's too)");
  }
  tokenOptions.rotationPeriod = std::chrono::hours(flags.tokenRotationHours);
  auto authority = controlAuthority(flags, manager.client(), clock);
  if (!authority.isOk()) {
    std::cerr << "sluice-operator: " << authority.status().message() << "\n";
    return 1;
  }
  tokenOptions.authority = authority->authority.get();
  auto admission = serveAdmission(flags, manager.client(), clock);
  if (!admission.isOk()) {
    std::cerr << "sluice-operator: " << admission.status().message() << "\n";
    return 1;
  }
  auto demand = std::make_shared<sluice::controllers::WarmPoolDemand>(flags.warmPoolSizing, registry, clock);
  sluice::platform::KubePlatformSetup kube(manager, platformOptionsOf(flags, demand), flags.watchNamespace, clock,
                                           tokenOptions);
  sluice::controllers::ControllersOptions controllerOptions = controllerOptionsOf(flags, registry, demand);
  std::unique_ptr<sluice::kube::Informer> gatewayEndpoints =
      watchGateway(flags, *connected->client, clock, controllerOptions.gatewayLoadsUrls);
  sluice::controllers::Controllers controllers(manager, controllerOptions,
                                               {kube.platform, kube.expectations, kube.events, kube.tokens}, clock);
  if (metricsServer) metricsServer->add(controllers.stateMetrics());
  const int exitCode = manager.run(stop.get_token());
  // The collector reads the Manager's caches: detach it (waiting out a scrape in progress) before they go.
  if (metricsServer) metricsServer->remove(controllers.stateMetrics());
  return exitCode;
}

// The flags of the cluster mode that need more than CLI11's checks; false
// (the fault printed) when one is wrong.
bool parseClusterFlags(OperatorFlags& flags) {
  if (!(flags.retryPeriodSeconds < flags.renewDeadlineSeconds &&
        flags.renewDeadlineSeconds < flags.leaseDurationSeconds)) {
    std::cerr << "sluice-operator: --leader-election-retry-period (" << flags.retryPeriodSeconds
              << ") < --leader-election-renew-deadline (" << flags.renewDeadlineSeconds
              << ") < --leader-election-lease-duration (" << flags.leaseDurationSeconds << ") must hold\n";
    return false;
  }
  if (std::string error; !sluice::autoscaler::validWarmPoolSizing(flags.warmPoolSizing, &error)) {
    std::cerr << "sluice-operator: " << error << "\n";
    return false;
  }
  if (auto allowed = sluice::scalers::EndpointAllowList::parse(flags.scalerEndpointAllow); allowed.isOk()) {
    flags.allowedEndpoints = *allowed;
  } else {
    std::cerr << "sluice-operator: --scaler-endpoint-allow: " << allowed.status().message() << "\n";
    return false;
  }
  if (!flags.gatewayService.empty() && flags.gatewayService.find('/') == std::string::npos) {
    std::cerr << "sluice-operator: --gateway-service " << flags.gatewayService << ": expected NAMESPACE/NAME\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::installCrashReport();
  // The validator (the webhook, --local --check) compiles inline handler code as the replica would load it.
  sluice::api::v1alpha1::setPythonSyntaxCheck(&sluice::python_syntax::check);
  CLI::App app{"sluice-operator: runs Sluice Functions and Triggers on Kubernetes or, with --local, on this machine"};
  app.set_version_flag("--version", std::string("sluice-operator ") + sluice::kVersion);

  OperatorFlags flags;
  addOperatorFlags(app, flags);

  SimulateFlags sim;
  CLI::App* simulate = addSimulateCommand(app, sim);

  std::string checkUrl;
  CLI::App* checkMetrics =
      app.add_subcommand("check-metrics", "Exit 0 when URL serves the operator's Prometheus metrics (helm test)");
  checkMetrics->add_option("--url", checkUrl, "The /metrics URL, e.g. http://sluice-metrics:8080/metrics")->required();

  CLI11_PARSE(app, argc, argv);

  if (simulate->parsed()) return runSimulate(sim.tracePath, sim.functionPath, sim.policyName, sim.json, sim.shared);
  if (checkMetrics->parsed()) return runCheckMetrics(checkUrl);

  if (auto status = sluice::setLogLevel(flags.logLevel); !status.isOk()) {
    std::cerr << "sluice-operator: --log-level: " << status.message() << "\n";
    return 2;
  }
  if (!flags.localDir.empty() && flags.localCheck) return checkManifests(flags.localDir);
  if (!parseClusterFlags(flags)) return 2;

  const sigset_t signals = sluice::blockStopSignals();
  // /metrics only when asked for: concurrent operators in tests would fight over one default port.
  // Started after the signal mask is set, so its threads inherit it.
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<sluice::metrics::MetricsServer> metricsServer;
  if (!serveMetrics(flags, registry, metricsServer)) return 2;

  std::unique_ptr<sluice::reconcile::HealthServer> health;
  if (!serveHealth(flags, health)) return 2;

  std::stop_source stop;
  std::jthread signalThread([&] {
    int received = 0;
    sigwait(&signals, &received);
    SLUICE_LOG_INFO("sluice-operator: received signal {}, shutting down", received);
    stop.request_stop();
  });

  int exitCode = 0;
  if (!flags.localDir.empty()) {
    flags.local.dir = flags.localDir;
    flags.local.logLevel = flags.logLevel;
    exitCode = runLocal(flags.local, registry, metricsServer.get(), stop);
  } else {
    exitCode = runOnKubernetes(flags, registry, metricsServer.get(), stop);
  }
  // Wake the signal thread if we are leaving on our own. SIGTERM is blocked in
  // every thread, so sigwait() takes it; nothing is terminated.
  if (!stop.stop_requested()) {
    pthread_kill(signalThread.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
  }
  signalThread.join();
  return exitCode;
}
