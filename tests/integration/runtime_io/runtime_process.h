// Helpers for tests that run the real sluice-runtime binary (build/sluice-runtime)
// as a child process: spawning it with a config file, its control endpoints
// over HTTP, and waiting for it to exit. Test-only; not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeLoopbackPort();

// A fresh directory under the system temp dir.
std::string makeTempDir(const std::string& prefix);
void writeFile(const std::string& path, const std::string& content);
std::string readFile(const std::string& path);
// The records a dir output holds (one file each), in the order written.
std::vector<std::string> dirSinkRecords(const std::string& dir);

struct HttpReply {
  int code = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
};
HttpReply httpGet(int port, const std::string& path);
// POST with an optional Authorization header value.
HttpReply httpPost(int port, const std::string& path, const std::string& body, const std::string& authorization = "");
// The invoke token every RuntimeProcess accepts (its SLUICE_INVOKE_TOKEN).
inline constexpr const char* kTestInvokeToken = "test-invoke-token-0123456789abcdef";

// POSTs raw bytes (no charset conversion) with extra headers to a replica's
// /invoke on its data port, as the operator does for a cron tick
// (X-Sluice-Trigger, X-Sluice-Event-Type: cron.tick), with `token` in
// X-Sluice-Invoke-Token ("" sends none).
HttpReply invokeReplica(int dataPort, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        const std::string& token = kTestInvokeToken);

// One sluice-runtime child: stdout and stderr go to `logPath`.
class RuntimeProcess {
 public:
  RuntimeProcess() = default;
  ~RuntimeProcess();  // SIGKILLs a child still running
  RuntimeProcess(const RuntimeProcess&) = delete;
  RuntimeProcess& operator=(const RuntimeProcess&) = delete;

  // Starts `build/sluice-runtime --control-bind-address 127.0.0.1:<port>
  // --data-bind-address 127.0.0.1:<a free port> <args...>`, accepting
  // kTestInvokeToken on /invoke (SLUICE_INVOKE_TOKEN; `environment` adds
  // more variables to the child's).
  void start(int port, const std::vector<std::string>& args, const std::string& logPath,
             const std::vector<std::pair<std::string, std::string>>& environment = {});

  // Polls /readyz until it answers 200 (true), the child exits, or `timeout` passes (false).
  bool waitReady(std::chrono::milliseconds timeout);

  void signal(int signal);
  // Waits for the child; the exit code, or 128+signal when killed.
  int wait();
  // wait() bounded by `timeout`; -1 when still running then.
  int waitFor(std::chrono::milliseconds timeout);

  pid_t pid() const { return pid_; }
  // The pid of the last start(), still known once the child has been waited for
  // (what a killed replica wrote into its claims).
  pid_t startedPid() const { return startedPid_; }
  int port() const { return port_; }
  int dataPort() const { return dataPort_; }
  std::string log() const { return readFile(logPath_); }

 private:
  pid_t pid_ = -1;
  pid_t startedPid_ = -1;
  int port_ = 0;
  int dataPort_ = 0;
  std::string logPath_;
};

// Runs the binary to completion (for configs that must be refused); returns the exit code.
int runRuntimeToExit(const std::vector<std::string>& args, const std::string& logPath,
                     std::chrono::milliseconds timeout);

// The sum of every sample of Prometheus metric `name` whose labels contain `labelMatch` (e.g. trigger="in").
double metricSum(const std::string& metricsText, const std::string& name, const std::string& labelMatch);

}  // namespace sluice::testing
