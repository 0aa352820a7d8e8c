#include "scalers/scaler.h"

namespace sluice::scalers {

autoscaler::MetricObservation observe(Scaler& scaler) {
  autoscaler::MetricObservation observation;
  observation.name = scaler.name();
  ScalerTarget target = scaler.target();
  observation.targetType = target.type;
  observation.target = target.target;
  observation.activationThreshold = target.activationThreshold;
  observation.windowed = target.windowed;
  Result<ScalerReading> reading = scaler.read();
  if (!reading.isOk()) {
    observation.error = reading.status().toString();
    return observation;
  }
  observation.value = reading->value;
  observation.active = reading->active;
  observation.minReplicas = reading->minReplicas;
  observation.processedTotal = reading->processedTotal;
  observation.busySecondsTotal = reading->busySecondsTotal;
  observation.countedReplicas = reading->countedReplicas;
  observation.arrivedTotal = reading->arrivedTotal;
  observation.backlog = reading->backlog;
  observation.partitions = reading->partitions;
  return observation;
}

}  // namespace sluice::scalers
