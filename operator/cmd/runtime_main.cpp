// sluice-runtime: the process inside every function replica.
//
// Cold mode (--config FILE): loads the function at start and starts its
// triggers. Warm mode (--warm): starts with no function, reports ready, and
// waits for an authenticated POST /specialize carrying the configuration.
// Either way SIGTERM, SIGINT or POST /drain drains gracefully (stop fetching,
// finish in-flight work within --drain-grace, commit/ack, leave the consumer
// group) and exits 0. /invoke is served on --data-bind-address, the rest on
// --control-bind-address; both tokens are taken from the environment (or
// token files) before anything else runs and scrubbed (docs/trust.md), as is
// the control port's TLS key: given a certificate, the control port serves HTTPS.
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/crash_report.h"
#include "common/free_port.h"
#include "common/logging.h"
#include "common/memory_limit.h"
#include "common/signals.h"
#include "common/tokens.h"
#include "runtime/config/config_parser.h"
#include "runtime/control/control_server.h"
#include "runtime/control/process_secrets.h"
#include "runtime/control/runtime_controller.h"
#include "runtime/handlers/make_handler.h"
#include "runtime/memory/memory_watchdog.h"
#include "runtime/metrics/runtime_metrics.h"
#include "sluice/version.h"

namespace {

// glibc's two bounds, set once, before any record is read.
// - Event payloads of a few hundred KB and more get their own mappings, given
//   back to the system when freed. glibc otherwise raises this threshold after
//   the first such free (up to 32 MiB), so 1 MB records then come from
//   per-thread heaps that keep freed memory: the resident set drifted far above
//   what the byte budget holds in flight.
// - Fixing it also leaves the heap-top trim threshold at 128 KiB. Memory freed
//   at the top of a heap now stays there for reuse up to a 16th of the memory
//   limit, at most 32 MiB: a Kafka replica frees and allocates tens of MB of
//   small objects a second (records, events, librdkafka's per-message state),
//   and giving those pages back and faulting them in again cost 10-15 % of a
//   mirror's CPU (bench/mirror, 3 interleaved runs each way). A 16th keeps a
//   small pod's watchdog clear of it.
void tuneMalloc(int64_t memoryLimitBytes) {
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  constexpr int64_t kMostKept = int64_t{32} * 1024 * 1024;
  const int64_t kept = memoryLimitBytes > 0 ? std::min(kMostKept, memoryLimitBytes / 16) : kMostKept;
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(kept));
}

// A token from `file` when given (read once and unlinked), else the value
// taken from the environment at start.
sluice::Result<std::string> tokenFrom(const std::string& file, const std::string& fromEnvironment, const char* flag) {
  if (file.empty()) return fromEnvironment;
  auto token = sluice::runtime::takeFileSecret(file);
  if (!token.isOk()) return sluice::invalidArgument(std::string(flag) + ": " + token.status().message());
  return token;
}

// PEM text ends with a newline (a value taken from the environment or a trimmed file may have lost it).
std::string pemText(std::string text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

// The control port's certificate and key: from the files when given (the key
// file unlinked once read, as a token file), else from the environment.
sluice::Status controlTlsFrom(const std::string& certificateFile, const std::string& keyFile,
                              sluice::runtime::ControlServerOptions& options) {
  if (!certificateFile.empty()) {
    std::ifstream in(certificateFile);
    if (!in) return sluice::invalidArgument("--control-tls-cert-file: cannot read \"" + certificateFile + "\"");
    options.tlsCertificatePem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (!keyFile.empty()) {
    auto key = sluice::runtime::takeFileSecret(keyFile);
    if (!key.isOk()) return sluice::invalidArgument("--control-tls-key-file: " + key.status().message());
    options.tlsPrivateKeyPem = *key;
  }
  options.tlsCertificatePem = pemText(options.tlsCertificatePem);
  options.tlsPrivateKeyPem = pemText(options.tlsPrivateKeyPem);
  if (options.tlsCertificatePem.empty() != options.tlsPrivateKeyPem.empty()) {
    return sluice::invalidArgument("the control port's TLS needs both a certificate and its key");
  }
  return sluice::Status::ok();
}

// The controller keeps handlers as shared_ptr (the replica and /invoke share one).
sluice::Result<std::shared_ptr<sluice::runtime::Handler>> buildHandler(
    const sluice::runtime::config::FunctionConfig& function) {
  auto handler = sluice::runtime::makeHandler(function);
  if (!handler.isOk()) return handler.status();
  return std::shared_ptr<sluice::runtime::Handler>(std::move(handler).value());
}

// Kubernetes shows this file's content as the container's termination
// message; elsewhere (no such file, not writable) the log says it.
void writeTerminationMessage(const std::string& path, const std::string& message) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::trunc);
  if (out) out << message << "\n";
}

// The exit code of a replica the memory watchdog stopped.
constexpr int kMemoryPressureExit = 4;

struct RuntimeFlags {
  std::string configPath;
  std::string controlAddress = "0.0.0.0:8090";
  std::string logLevel = "info";
  std::string dataAddress = "0.0.0.0:8080";
  std::string tokenFile;
  std::string invokeTokenFile;
  std::string tlsCertificateFile;
  std::string tlsKeyFile;
  int drainGraceSeconds = 30;
  bool warm = false;
  sluice::runtime::InvokeLimitOptions invokeLimits;
  int64_t memoryLimitBytes = 0;
  double memoryThreshold = 0.9;
  std::string terminationLog = "/dev/termination-log";
  CLI::Option* controlOption = nullptr;
  CLI::Option* dataOption = nullptr;
};

void addAddressAndTokenFlags(CLI::App& app, RuntimeFlags& f) {
  app.add_option("--config", f.configPath, "Function configuration file (JSON or YAML) rendered by the operator")
      ->envname("SLUICE_CONFIG");
  f.controlOption = app.add_option("--control-bind-address", f.controlAddress,
                                   "Address of /healthz, /readyz, /metrics, /specialize, /drain")
                        ->capture_default_str();
  f.dataOption =
      app.add_option("--data-bind-address", f.dataAddress,
                     "Address of /invoke (the gateway's and the cron firer's); default 0.0.0.0:8080, or a free "
                     "port on the control address's host when only --control-bind-address is given (a replica run "
                     "by hand or by a test that does not invoke it must not collide on 8080)")
          ->capture_default_str();
  app.add_flag("--warm", f.warm, "Start without a function and wait for /specialize");
  app.add_option("--specialize-token-file", f.tokenFile,
                 "File holding the bearer token /specialize and /drain require, removed once read (else env "
                 "SLUICE_SPECIALIZE_TOKEN, unset once read)")
      ->envname("SLUICE_SPECIALIZE_TOKEN_FILE");
  app.add_option("--invoke-token-file", f.invokeTokenFile,
                 "File holding the tokens /invoke accepts (current[,previous]), removed once read (else env "
                 "SLUICE_INVOKE_TOKEN, unset once read); none: /invoke refuses every call")
      ->envname("SLUICE_INVOKE_TOKEN_FILE");
  app.add_option("--control-tls-cert-file", f.tlsCertificateFile,
                 "PEM certificate the control port serves HTTPS with (else env SLUICE_CONTROL_TLS_CERT); none: "
                 "plain HTTP");
  app.add_option("--control-tls-key-file", f.tlsKeyFile,
                 "Its PEM private key, removed once read (else env SLUICE_CONTROL_TLS_KEY, unset once read)");
}

void addLimitFlags(CLI::App& app, RuntimeFlags& f) {
  app.add_option("--drain-grace", f.drainGraceSeconds, "Seconds to finish in-flight work when draining")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--invoke-max-body-bytes", f.invokeLimits.maxBodyBytes, "Largest /invoke body; larger ones get 413")
      ->envname("SLUICE_INVOKE_MAX_BODY_BYTES")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  app.add_option("--invoke-max-concurrency", f.invokeLimits.maxConcurrent,
                 "/invoke requests under way at once; more get 429 with Retry-After")
      ->envname("SLUICE_INVOKE_MAX_CONCURRENCY")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--memory-limit-bytes", f.memoryLimitBytes,
                 "The memory limit the watchdog guards (default: the container's cgroup limit)")
      ->envname("SLUICE_MEMORY_LIMIT_BYTES")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50));
  app.add_option("--memory-watchdog-threshold", f.memoryThreshold,
                 "Share of the memory limit at which the replica sheds load, drains and exits (exit code 4)")
      ->envname("SLUICE_MEMORY_WATCHDOG_THRESHOLD")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 0.99));
  app.add_option("--termination-log", f.terminationLog,
                 "Where the reason for a watchdog exit is written (Kubernetes' terminationMessagePath)")
      ->capture_default_str();
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn or error")
      ->envname("SLUICE_LOG_LEVEL")
      ->capture_default_str();
}

// Checks the flags and reads the token files and TLS pair into the server's options. Exit code 2 on a
// mistake (said on stderr), else 0.
int settle(RuntimeFlags& f, const std::string& controlTokenFromEnvironment,
           const std::string& invokeTokensFromEnvironment, sluice::runtime::ControlServerOptions& serverOptions) {
  if (auto status = sluice::setLogLevel(f.logLevel); !status.isOk()) {
    std::cerr << "sluice-runtime: --log-level: " << status.message() << "\n";
    return 2;
  }
  if (!f.warm && f.configPath.empty()) {
    std::cerr << "sluice-runtime: --config is required unless --warm is given\n";
    return 2;
  }
  if (f.controlOption->count() > 0 && f.dataOption->count() == 0) {
    f.dataAddress =
        f.controlAddress.substr(0, f.controlAddress.rfind(':')) + ":" + std::to_string(sluice::freeLoopbackPort());
  }
  auto token = tokenFrom(f.tokenFile, controlTokenFromEnvironment, "--specialize-token-file");
  auto invokeTokens = tokenFrom(f.invokeTokenFile, invokeTokensFromEnvironment, "--invoke-token-file");
  for (const auto* read : {&token, &invokeTokens}) {
    if (!read->isOk()) {
      std::cerr << "sluice-runtime: " << read->status().message() << "\n";
      return 2;
    }
  }
  if (auto tls = controlTlsFrom(f.tlsCertificateFile, f.tlsKeyFile, serverOptions); !tls.isOk()) {
    std::cerr << "sluice-runtime: " << tls.message() << "\n";
    return 2;
  }
  serverOptions.bindAddress = f.controlAddress;
  serverOptions.specializeToken = *token;
  serverOptions.dataBindAddress = f.dataAddress;
  serverOptions.invokeTokens = sluice::splitTokenList(*invokeTokens);
  if (serverOptions.invokeTokens.empty()) SLUICE_LOG_WARN("no invoke token: /invoke refuses every call");
  serverOptions.invokeLimits = f.invokeLimits;
  serverOptions.unhealthyReason = []() -> std::string {
    return sluice::runtime::handlersHealthy() ? "" : "the Python interpreter is stuck (docs/python-handlers.md)";
  };
  return 0;
}

// Warm: the interpreter starts now, not in /specialize. Cold: the function loads now. An exit code, or 0.
int loadFunction(const RuntimeFlags& f, sluice::runtime::RuntimeController& controller) {
  if (f.warm) {
    sluice::runtime::prepareHandlers();
    return 0;
  }
  // Why it stops, also as the container's termination message: the operator
  // shows it in the Function's conditions (a Python SyntaxError with its line).
  auto function = sluice::runtime::config::loadFunctionConfig(f.configPath);
  if (!function.isOk()) {
    std::cerr << "sluice-runtime: " << function.status().message() << "\n";
    writeTerminationMessage(f.terminationLog, function.status().message());
    return 2;
  }
  if (auto status = controller.specialize(*function); !status.isOk()) {
    std::cerr << "sluice-runtime: " << status.toString() << "\n";
    writeTerminationMessage(f.terminationLog, status.toString());
    return 1;
  }
  return 0;
}

// Serves until a drain is asked for (signal, /drain, or a watchdog), drains, and returns the exit code.
int serveUntilDrained(const RuntimeFlags& f, int64_t memoryLimitBytes, sluice::runtime::RuntimeController& controller) {
  // A stuck interpreter cannot be recovered inside the process: drain what
  // can still finish and exit non-zero so Kubernetes (or the local
  // supervisor) starts a fresh replica. Unacknowledged input is redelivered.
  std::atomic<int> exitCode{0};
  std::jthread watchdog([&](std::stop_token stop) {
    sluice::Clock& clock = sluice::realClock();
    while (clock.sleepUntil(clock.now() + std::chrono::seconds(1), stop)) {
      if (!sluice::runtime::handlersHealthy()) {
        SLUICE_LOG_ERROR("the Python interpreter is stuck: draining and exiting with code 3 to be restarted");
        exitCode = 3;
        controller.requestDrain();
        return;
      }
    }
  });
  // The memory watchdog: shed load, drain and exit 4 before the kernel's OOM kill.
  sluice::runtime::MemoryWatchdog memoryWatchdog(
      {memoryLimitBytes, f.memoryThreshold}, [] { return sluice::runtime::residentBytes(); }, sluice::realClock());
  memoryWatchdog.start([&](const std::string& message) {
    SLUICE_LOG_ERROR("{}", message);
    writeTerminationMessage(f.terminationLog, message);
    exitCode = kMemoryPressureExit;
    controller.shedLoad();
  });
  controller.waitForDrainRequest();
  // Unfinished events were not acknowledged and will be redelivered, so the
  // drain succeeds either way; drain() logs what was left.
  // A stuck interpreter finishes nothing more: its unfinished events stay
  // unacknowledged (redelivered), so there is no point waiting the full grace.
  auto grace = std::chrono::seconds(exitCode != 0 ? std::min(f.drainGraceSeconds, 5) : f.drainGraceSeconds);
  (void)controller.drain(grace);
  watchdog.request_stop();
  watchdog.join();
  memoryWatchdog.stop();
  return exitCode.load();
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  // Before anything else (threads, the interpreter): the handler must not find the tokens.
  const std::string controlTokenFromEnvironment =
      sluice::runtime::takeEnvironmentSecret(sluice::kControlTokenEnv, envp);
  const std::string invokeTokensFromEnvironment = sluice::runtime::takeEnvironmentSecret(sluice::kInvokeTokenEnv, envp);
  sluice::runtime::ControlServerOptions serverOptions;
  serverOptions.tlsCertificatePem = sluice::runtime::takeEnvironmentSecret(sluice::kControlTlsCertificateEnv, envp);
  serverOptions.tlsPrivateKeyPem = sluice::runtime::takeEnvironmentSecret(sluice::kControlTlsKeyEnv, envp);
  sluice::installCrashReport();
  CLI::App app{"sluice-runtime: a Sluice function replica (sources -> handler -> sinks)"};
  app.set_version_flag("--version", std::string("sluice-runtime ") + sluice::kVersion);
  RuntimeFlags flags;
  addAddressAndTokenFlags(app, flags);
  addLimitFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  const int64_t memoryLimitBytes =
      flags.memoryLimitBytes != 0 ? flags.memoryLimitBytes : sluice::memoryLimitMebibytes() * 1024 * 1024;
  tuneMalloc(memoryLimitBytes);
  if (auto python = sluice::runtime::usePythonOfImage(); !python.isOk()) {
    std::cerr << "sluice-runtime: " << python.message() << "\n";
    writeTerminationMessage(flags.terminationLog, python.message());
    return 2;
  }
  if (int code = settle(flags, controlTokenFromEnvironment, invokeTokensFromEnvironment, serverOptions); code != 0) {
    return code;
  }

  sigset_t signals = sluice::blockStopSignals();
  sluice::runtime::RuntimeMetrics metrics;
  sluice::runtime::RuntimeController controller(buildHandler, metrics, sluice::realClock());
  std::thread signalThread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    SLUICE_LOG_INFO("signal {}: draining", signal);
    controller.requestDrain();
  });
  signalThread.detach();
  if (int code = loadFunction(flags, controller); code != 0) return code;
  sluice::runtime::ControlServer server(serverOptions, controller);
  if (auto status = server.start(); !status.isOk()) {
    std::cerr << "sluice-runtime: " << status.toString() << "\n";
    return 1;
  }
  SLUICE_LOG_INFO("sluice-runtime {} {} on {} (control) and {} (data)", sluice::kVersion,
                  flags.warm ? "warm, waiting for /specialize" : "running", flags.controlAddress, flags.dataAddress);
  const int exitCode = serveUntilDrained(flags, memoryLimitBytes, controller);
  server.stop();
  return exitCode;
}
