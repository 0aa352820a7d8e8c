// ScalerFactory: builds the Scaler that measures one Trigger's backlog from
// the Trigger object (crds/sluice.io_triggers.yaml). The real one is
// TriggerScalerFactory (trigger_scaler_factory.h); unit tests of the loop use
// a fake that hands out scripted scalers. Implementations are thread-safe.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "scalers/scaler.h"

namespace sluice::controllers {

class ScalerFactory {
 public:
  virtual ~ScalerFactory() = default;
  // The scaler for `trigger`, or null (and OK) when its source has no backlog
  // to measure (http). Errors name the field or the Secret that is wrong.
  virtual Result<std::unique_ptr<scalers::Scaler>> create(const nlohmann::json& trigger) = 0;
  // The scaler for a Function's spec.scaling.cpuTargetUtilization (the caller
  // asks only when it is set), or null when this factory cannot measure CPU.
  virtual Result<std::unique_ptr<scalers::Scaler>> createCpu(const nlohmann::json& function) {
    (void)function;
    return std::unique_ptr<scalers::Scaler>();
  }
};

// Which source a Trigger names: "kafka", "rabbitmq", "cron", "http",
// "objectStore", "prometheus", or "" when none.
std::string triggerSourceType(const nlohmann::json& trigger);

}  // namespace sluice::controllers
