// RuntimeController: the replica's lifecycle behind the control server.
//
// States: warm (no function; ready, waiting for /specialize) -> running (a
// Replica with handler, sources and sinks) -> draining -> drained. In cold
// mode main() specializes at start from --config, sources included: a source
// that cannot start fails the process. /specialize answers once the handler is
// loaded and the outputs are built (invoke() runs events from then on); the
// pulled trigger sources (a broker handshake each) start after the answer on
// a thread of their own, retried with backoff, and the replica reports not
// ready until every one runs. Specialization time (parse, handler load,
// sinks, sources running) goes to the
// sluice_runtime_specialization_duration_seconds histogram.
// Thread-safe: control-server threads and main() call it concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "runtime/config/function_config.h"
#include "runtime/control/control_hooks.h"
#include "runtime/core/handler.h"
#include "runtime/delivery/replica.h"
#include "runtime/metrics/runtime_metrics.h"

namespace sluice::runtime {

// Builds the function's handler (Python host or built-in pipeline).
using HandlerFactory = std::function<Result<std::shared_ptr<Handler>>(const config::FunctionConfig&)>;

// Builds a trigger's Source, or nullptr for a pushed trigger (buildSource by default).
using SourceFactory = std::function<Result<std::unique_ptr<Source>>(
    const config::TriggerConfig&, const config::FunctionConfig&, RuntimeMetrics&, Clock&)>;

struct RuntimeControllerOptions {
  SourceFactory sourceFactory;  // empty: buildSource
  // Between attempts to start a source a broker refused, after /specialize answered: doubles up to the max.
  Clock::Duration sourceRetryInitial = std::chrono::milliseconds(200);
  Clock::Duration sourceRetryMax = std::chrono::seconds(10);
  // How long an /invoke on a warm replica waits for its function before it is
  // refused ("no function is loaded yet"): an adopted warm pod is labelled a
  // replica (and is Ready) a moment before the operator's /specialize
  // finishes, and the gateway may send it a request held at zero in between.
  // Waiting here answers it the moment the handler is loaded, not after the
  // gateway's retry backoff.
  std::chrono::milliseconds awaitFunction{1000};
};

class RuntimeController final : public ControlHooks {
 public:
  RuntimeController(HandlerFactory handlerFactory, RuntimeMetrics& metrics, Clock& clock,
                    RuntimeControllerOptions options = {});
  ~RuntimeController() override;

  // ControlHooks
  std::string notReadyReason() override;
  std::string metricsText() override { return metrics_.scrape(); }
  Status specialize(const std::string& body) override;
  void requestDrain() override;
  Result<std::vector<Record>> invoke(const InvokeRequest& request) override;
  std::string refusesInvocations() override;

  // Cold start: returns once the sources run too (an error if one cannot start).
  Status specialize(const config::FunctionConfig& function);

  // Under memory pressure: the delivery loop stops starting work (what has
  // not started stays unacknowledged, for redelivery) and a drain is
  // requested. Idempotent.
  void shedLoad();

  // Blocks until a drain is requested (SIGTERM or /drain).
  void waitForDrainRequest();

  // Graceful drain within `grace` (see Replica::drain). Idempotent.
  Status drain(Clock::Duration grace);

  // Seconds the last specialization took (0 before).
  double lastSpecializationSeconds();

 private:
  enum class SourceStart { kBeforeAnswer, kAfterAnswer };

  HandlerFactory handlerFactory_;
  RuntimeMetrics& metrics_;
  Clock& clock_;
  RuntimeControllerOptions options_;

  std::mutex mu_;
  std::condition_variable drainRequestedCv_;
  std::condition_variable loadedOrDrainingCv_;  // replica_ set, or a drain asked for
  bool drainRequested_ = false;                 // guarded by mu_
  bool draining_ = false;                       // guarded by mu_
  bool specializing_ = false;                   // guarded by mu_
  std::string functionName_;                    // guarded by mu_
  // The function's pushed triggers, the only names /invoke takes: name -> is a cron trigger (else http).
  std::map<std::string, bool> pushedTriggers_;  // guarded by mu_
  std::shared_ptr<Replica> replica_;            // guarded by mu_
  double lastSpecializationSeconds_ = 0;        // guarded by mu_
  uint64_t invocations_ = 0;                    // guarded by mu_
  bool sourcesRunning_ = true;                  // guarded by mu_; false from the answer until every source runs
  std::string sourcesError_;                    // guarded by mu_; why the last attempt to start them failed
  std::jthread sourceStarter_;                  // guarded by mu_; joined (outside mu_) by drain()

  // `received`: when the request arrived (parsing included in the trace).
  Status specialize(const config::FunctionConfig& function, Clock::TimePoint received, SourceStart sourceStart);
  // When each step of a specialization ended (the log's trace).
  struct SpecializeTrace {
    Clock::TimePoint received;
    Clock::TimePoint started;
    Clock::TimePoint handlerLoaded;
    Clock::TimePoint outputsBuilt;
    Clock::TimePoint answering;
  };
  // The replica of `function`: its handler, outputs, dead letters and trigger sources, not started.
  Result<std::shared_ptr<Replica>> buildReplica(const config::FunctionConfig& function, SpecializeTrace& trace);
  // Makes `replica` the running one (its sources started by a thread when `sourcesLater`); false when
  // a drain came meanwhile, and the caller drains it.
  bool install(const std::shared_ptr<Replica>& replica, const config::FunctionConfig& function, double seconds,
               bool sourcesLater, Clock::TimePoint received);
  // The trigger /invoke runs `request` as (see ControlServer): kNotFound when the function has none such.
  Result<std::string> pushedTriggerFor(const InvokeRequest& request);  // requires mu_
  // The source starter's thread: startSources() until it succeeds or a drain stops it.
  void startSources(const std::shared_ptr<Replica>& replica, Clock::TimePoint received, std::stop_token stop);
};

}  // namespace sluice::runtime
