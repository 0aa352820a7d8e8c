// The LocalPlatform's seams to the operating system, so its logic is unit
// tested with fakes (tests/unit/local_platform): starting and signalling
// processes, and talking to a runtime's control endpoint.
// Implementations are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "platform/control_client.h"

namespace sluice::platform {

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  using Environment = std::vector<std::pair<std::string, std::string>>;
  // Starts argv[0] with the arguments, and this process's environment plus
  // `env` (which wins); the child dies with this process. Call it from a
  // thread that outlives the children: the kernel's parent-death signal
  // follows the thread that forked, not the process.
  virtual Result<int> spawn(const std::vector<std::string>& argv, const Environment& env) = 0;
  virtual void signal(int pid, int signalNumber) = 0;
  // Children that exited since the last call: (pid, exit code, or 128 + signal).
  virtual std::vector<std::pair<int, int>> reapExited() = 0;
  // A TCP port on 127.0.0.1 free right now (for a child's control endpoint).
  virtual int freePort() = 0;
};

class RuntimeEndpoint {
 public:
  virtual ~RuntimeEndpoint() = default;
  // GET /readyz answered 200.
  virtual bool ready(int port) = 0;
  // POST /specialize with the bearer token and the configuration.
  virtual Status specialize(int port, const std::string& token, const std::string& configuration) = 0;
  // POST /invoke with the event (a cron tick): OK once the replica settled it;
  // kUnavailable when it asks for another try (429/503/504) or cannot be reached.
  virtual Status invoke(int port, const std::string& trigger, const std::string& eventType,
                        const std::string& body) = 0;
};

// The real ones: fork/exec/waitpid, and the ControlClient over loopback.
class PosixProcessRunner final : public ProcessRunner {
 public:
  Result<int> spawn(const std::vector<std::string>& argv, const Environment& env) override;
  void signal(int pid, int signalNumber) override;
  std::vector<std::pair<int, int>> reapExited() override;
  int freePort() override;
};

class HttpRuntimeEndpoint final : public RuntimeEndpoint {
 public:
  // `invokeToken`: what the runtime children accept on /invoke (LocalPlatformOptions::invokeToken).
  explicit HttpRuntimeEndpoint(std::string invokeToken,
                               std::shared_ptr<http::HttpClient> http = http::makeCppRestHttpClient())
      : invokeToken_(std::move(invokeToken)), client_(std::move(http)) {}
  bool ready(int port) override;
  Status specialize(int port, const std::string& token, const std::string& configuration) override;
  // `port` is the child's data port.
  Status invoke(int port, const std::string& trigger, const std::string& eventType, const std::string& body) override;

 private:
  const std::string invokeToken_;
  ControlClient client_;
};

}  // namespace sluice::platform
