// RuntimeCpuScaler: CPU utilization from the replicas' own /metrics, for
// clusters without metrics.k8s.io and for the local platform.
//
// Each round scrapes `process_cpu_seconds_total` from every replica's metrics
// URL; utilization = CPU seconds used since the previous round / wall seconds /
// requested cores, averaged over the replicas seen twice, in percent. The first
// round (or a replica's first) has nothing to compare with and is skipped; a
// round with no comparable replica is an error (the engine holds the count),
// but with no replica at all the reading is 0 (the engine ignores utilization
// at zero replicas: CPU alone never activates a Function).
// Thread-compatible.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "scalers/http_getter.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct RuntimeCpuOptions {
  double targetUtilizationPercent = 80;
  double requestedCores = 1;
  // The replicas' metrics URLs, asked again every round (replicas come and go).
  std::function<std::vector<std::string>()> metricsUrls;
};

// The value of an unlabelled sample `name` in Prometheus text format, if present.
std::optional<double> findPrometheusSample(const std::string& text, const std::string& name);

class RuntimeCpuScaler final : public Scaler {
 public:
  RuntimeCpuScaler(RuntimeCpuOptions options, std::shared_ptr<HttpGetter> http, const Clock& clock)
      : options_(std::move(options)), http_(std::move(http)), clock_(clock) {}
  std::string name() const override { return "cpu"; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kUtilization, options_.targetUtilizationPercent, 0};
  }
  Result<ScalerReading> read() override;

 private:
  struct Sample {
    Clock::TimePoint at;
    double cpuSeconds;
  };
  RuntimeCpuOptions options_;
  std::shared_ptr<HttpGetter> http_;
  const Clock& clock_;
  std::map<std::string, Sample> previous_;
};

}  // namespace sluice::scalers
