// LocalPlatform: a Function's replicas as child `sluice-runtime` processes on
// this machine (the `local` Platform; see platform/platform.h).
//
// - A warm pool of `warmPoolSize` unspecialized processes (`--warm`) is kept
//   ready; scaling up hands one the configuration over the token-authenticated
//   /specialize (what the FunctionController does with warm pods), and starts
//   a process with `--config FILE` only when none is ready (or the Function is
//   not adoptable).
// - Scaling down sends SIGTERM: the runtime drains (stops fetching, finishes
//   in-flight work, releases claims) and exits; after the drain grace it is
//   killed.
// - A replica that exits on its own is replaced, after a backoff that doubles
//   per crash of that Function (1 s .. 30 s) and resets once a replica has run
//   for a minute; unacknowledged input is redelivered by the source (at least
//   once), so a crash loses nothing.
// - shutdown() drains every child and reaps it, so Ctrl-C leaves no process.
//
// apply()/forget()/counts() record and report; tick() does all process work
// and is called by one thread (the LocalRunner's loop). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "platform/local/process_runner.h"
#include "platform/platform.h"

namespace sluice::platform {

struct LocalPlatformOptions {
  std::string runtimeBinary;  // path of sluice-runtime
  std::string stateDir;       // configuration files of cold-started replicas
  std::string token;          // /specialize bearer token (passed to children by environment)
  int warmPoolSize = 1;
  std::chrono::seconds drainGrace{10};
  std::chrono::milliseconds warmReadyTimeout{30'000};
  std::chrono::seconds initialBackoff{1};
  std::chrono::seconds maxBackoff{30};
  std::chrono::seconds healthyAfter{60};  // a replica up this long resets its Function's backoff
  std::string logLevel = "info";
};

class LocalPlatform final : public Platform {
 public:
  // `registry` may be null (no metrics).
  LocalPlatform(LocalPlatformOptions options, ProcessRunner& processes, RuntimeEndpoint& endpoint, Clock& clock,
                std::shared_ptr<prometheus::Registry> registry = nullptr);

  Status apply(const ReplicaSpec& spec) override;
  void forget(const std::string& key) override;
  ReplicaCounts counts(const std::string& key) const override;

  // One pass: reap exits, replace crashed replicas, fill the warm pool, scale.
  void tick();
  // Drains every child (SIGTERM), waits up to the drain grace, kills the rest
  // and reaps them all. tick() must not run concurrently.
  void shutdown();

  int warmReady() const;
  // Pids of a Function's replicas (tests kill one).
  std::vector<int> replicaPids(const std::string& key) const;
  // Sum over Functions of replicas alive × seconds (the cost the demo reports).
  double replicaSeconds() const;

 private:
  enum class State { kWarmStarting, kWarm, kStarting, kReady, kDraining };
  struct Process {
    int pid = 0;
    int port = 0;
    State state = State::kWarmStarting;
    std::string function;  // key, for replicas
    std::string configurationHash;
    Clock::TimePoint startedAt{};
    Clock::TimePoint drainDeadline{};
  };
  struct FunctionState {
    ReplicaSpec spec;
    std::string configurationHash;
    bool forgotten = false;
    int restarts = 0;
    Clock::Duration backoff{};
    Clock::TimePoint nextStartAllowed{};
  };

  void reapLocked(Clock::TimePoint now);
  void scaleLocked(const std::string& key, FunctionState& function, Clock::TimePoint now);
  bool startReplicaLocked(const std::string& key, FunctionState& function, Clock::TimePoint now);
  void startWarmLocked(Clock::TimePoint now);
  void drainLocked(Process& process, Clock::TimePoint now);
  std::string configPathFor(const std::string& key) const;
  void publishLocked(Clock::TimePoint now);

  LocalPlatformOptions options_;
  ProcessRunner& processes_;
  RuntimeEndpoint& endpoint_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::map<int, Process> children_;                 // by pid
  std::map<std::string, FunctionState> functions_;  // by key
  Clock::TimePoint lastTick_{};
  double replicaSeconds_ = 0;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* replicasGauge_ = nullptr;
  prometheus::Family<prometheus::Gauge>* desiredGauge_ = nullptr;
  prometheus::Family<prometheus::Counter>* restartsCounter_ = nullptr;
  prometheus::Family<prometheus::Counter>* replicaSecondsCounter_ = nullptr;
  prometheus::Gauge* warmGauge_ = nullptr;
};

}  // namespace sluice::platform
