// RuntimeController: the replica's lifecycle behind the control server.
//
// States: warm (no function; ready, waiting for /specialize) -> running (a
// Replica with handler, sources and sinks) -> draining -> drained. In cold
// mode main() specializes at start from --config. Specialization time (parse,
// handler load, sinks, sources started) goes to the
// sluice_runtime_specialization_duration_seconds histogram.
// Thread-safe: control-server threads and main() call it concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "runtime/config/function_config.h"
#include "runtime/control/control_hooks.h"
#include "runtime/core/handler.h"
#include "runtime/delivery/replica.h"
#include "runtime/delivery/runtime_metrics.h"

namespace sluice::runtime {

// Builds the function's handler (Python host or built-in pipeline).
using HandlerFactory = std::function<Result<std::shared_ptr<Handler>>(const config::FunctionConfig&)>;

class RuntimeController final : public ControlHooks {
 public:
  RuntimeController(HandlerFactory handlerFactory, RuntimeMetrics& metrics, Clock& clock);
  ~RuntimeController() override;

  // ControlHooks
  std::string notReadyReason() override;
  std::string metricsText() override { return metrics_.scrape(); }
  Status specialize(const std::string& body) override;
  void requestDrain() override;
  Result<std::vector<Record>> invoke(const InvokeRequest& request) override;
  std::string refusesInvocations() override;

  Status specialize(const config::FunctionConfig& function);

  // Blocks until a drain is requested (SIGTERM or /drain).
  void waitForDrainRequest();

  // Graceful drain within `grace` (see Replica::drain). Idempotent.
  Status drain(Clock::Duration grace);

  // Seconds the last specialization took (0 before).
  double lastSpecializationSeconds();

 private:
  HandlerFactory handlerFactory_;
  RuntimeMetrics& metrics_;
  Clock& clock_;

  std::mutex mu_;
  std::condition_variable drainRequestedCv_;
  bool drainRequested_ = false;           // guarded by mu_
  bool draining_ = false;                 // guarded by mu_
  bool specializing_ = false;             // guarded by mu_
  std::string functionName_;              // guarded by mu_
  std::shared_ptr<Replica> replica_;      // guarded by mu_
  double lastSpecializationSeconds_ = 0;  // guarded by mu_
  uint64_t invocations_ = 0;              // guarded by mu_
};

}  // namespace sluice::runtime
