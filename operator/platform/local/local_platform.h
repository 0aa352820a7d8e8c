// LocalPlatform: a Function's replicas as child `sluice-runtime` processes on
// this machine (the `local` Platform; see platform/platform.h).
//
// - A warm pool of `warmPoolSize` unspecialized processes (`--warm`) is kept
//   ready; scaling up hands one the configuration over the token-authenticated
//   /specialize (what the KubePlatform does with warm pods), and starts
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
// - invoke() POSTs an operator-made event (a cron tick) to a ready replica's
//   /invoke on its control port.
//
// apply()/forget()/counts() record and report; tick() does all process work
// and is called by one thread (the LocalOperator's rounds). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "kube/resource_client.h"
#include "platform/local/process_runner.h"
#include "platform/platform.h"

namespace sluice::platform {

struct LocalPlatformOptions {
  std::string runtimeBinary;  // path of sluice-runtime
  std::string stateDir;       // configuration files of cold-started replicas
  std::string token;          // /specialize bearer token (passed to children by environment)
  std::string invokeToken;    // the token children accept on /invoke (by environment too)
  int warmPoolSize = 1;
  std::chrono::seconds drainGrace{10};
  std::chrono::milliseconds warmReadyTimeout{30'000};
  std::chrono::seconds initialBackoff{1};
  std::chrono::seconds maxBackoff{30};
  std::chrono::seconds healthyAfter{60};  // a replica up this long resets its Function's backoff
  std::string logLevel = "info";
  // Object-store triggers (dir, s3) are scanned this often and a dead
  // replica's claim is taken over after claimTtl (the runtime's defaults suit
  // many replicas on a shared volume or bucket; one machine wants a fast loop).
  std::string objectPollInterval = "250ms";
  std::string objectClaimTtl = "6s";
};

// What a local replica runs: the configuration file a process gets.
struct LocalReplicaSpec {
  std::string key;               // "namespace/name"
  nlohmann::json configuration;  // the runtime configuration, code inside (codeFiles)
  int desired = 0;
  bool adoptable = true;           // a warm (unspecialized) process may take this configuration
  ProcessRunner::Environment env;  // the Secrets' values under the names the renderer gave them
};

// Adds what a local replica needs to a rendered configuration: the inline
// code as codeFiles (there is no /code volume), and the local object-store
// trigger timings. Errors (kInvalidArgument) name the field --local cannot run
// (spec.code.configMapRef, spec.code.image).
Result<nlohmann::json> localConfiguration(const nlohmann::json& function, nlohmann::json configuration,
                                          const LocalPlatformOptions& options);

class LocalPlatform final : public Platform {
 public:
  // `registry` may be null (no metrics). `secrets` (may be null: none) is
  // where the Secrets a Function refers to are read, as the kubelet would.
  LocalPlatform(LocalPlatformOptions options, ProcessRunner& processes, RuntimeEndpoint& endpoint, Clock& clock,
                std::shared_ptr<prometheus::Registry> registry = nullptr, kube::ResourceClient* secrets = nullptr);

  // localConfiguration() of the rendered configuration, with its local
  // directory inputs and outputs created (a fresh machine may lack them; the
  // runtime refuses missing ones) and its Secrets' values as the replicas'
  // environment (such a Function is started cold, never adopted, as on
  // Kubernetes), then applyConfiguration().
  Result<ApplyOutcome> apply(const ReplicaSpec& spec) override;
  void forget(const std::string& key) override;
  ReplicaCounts counts(const std::string& key) const override;
  // To a ready replica process; returns "process PID".
  Result<std::string> invoke(const std::string& key, const std::string& trigger, const std::string& eventType,
                             const std::string& body) override;

  // Records what a Function's processes run and how many; tick() carries it out.
  void applyConfiguration(const LocalReplicaSpec& spec);

  // One pass: reap exits, replace crashed replicas, fill the warm pool, scale.
  void tick();
  // Drains every child (SIGTERM), waits up to the drain grace, kills the rest
  // and reaps them all. tick() must not run concurrently.
  void shutdown();

  int warmReady() const;
  // Pids of a Function's replicas (tests kill one).
  std::vector<int> replicaPids(const std::string& key) const;
  // A Function's replicas that take invocations now (ready, not draining): what the gateway balances over.
  struct ReadyReplica {
    int pid = 0;
    int port = 0;  // its data port (/invoke), on 127.0.0.1
  };
  std::vector<ReadyReplica> readyReplicas(const std::string& key) const;
  // Sum over Functions of replicas alive × seconds (the cost the demo reports).
  double replicaSeconds() const;

 private:
  enum class State { kWarmStarting, kWarm, kStarting, kReady, kDraining };
  struct Process {
    int pid = 0;
    int port = 0;      // control: /readyz, /specialize, /drain
    int dataPort = 0;  // /invoke
    State state = State::kWarmStarting;
    std::string function;  // key, for replicas
    std::string configurationHash;
    Clock::TimePoint startedAt{};
    Clock::TimePoint drainDeadline{};
  };
  struct FunctionState {
    LocalReplicaSpec spec;
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
  void ensureDirectory(const std::string& path);
  Result<std::string> secretValue(const std::string& ns, const std::string& name, const std::string& key) const;
  void publishLocked(Clock::TimePoint now);

  LocalPlatformOptions options_;
  ProcessRunner& processes_;
  RuntimeEndpoint& endpoint_;
  Clock& clock_;
  kube::ResourceClient* secrets_;

  mutable std::mutex mu_;
  std::map<int, Process> children_;                 // by pid
  std::map<std::string, FunctionState> functions_;  // by key
  Clock::TimePoint lastTick_{};
  double replicaSeconds_ = 0;
  std::set<std::string> ensuredDirectories_;  // created (or found) once; not checked again

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* replicasGauge_ = nullptr;
  prometheus::Family<prometheus::Gauge>* desiredGauge_ = nullptr;
  prometheus::Family<prometheus::Counter>* restartsCounter_ = nullptr;
  prometheus::Family<prometheus::Counter>* replicaSecondsCounter_ = nullptr;
  prometheus::Gauge* warmGauge_ = nullptr;
};

}  // namespace sluice::platform
