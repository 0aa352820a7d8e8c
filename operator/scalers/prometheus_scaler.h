// PrometheusScaler: the value of a PromQL query over Prometheus' HTTP API
// (/api/v1/query). An empty result counts as 0 (KEDA's ignoreNullValues
// default); more than one series is an error, as the metric must be one number.
// Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "http/http_client.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct PrometheusOptions {
  std::string serverAddress;  // http://127.0.0.1:9090
  std::string query;
  double threshold = 1;  // target value per replica
  double activationThreshold = 0;
  bool ignoreNullValues = true;
};

class PrometheusScaler final : public Scaler {
 public:
  PrometheusScaler(PrometheusOptions options, std::shared_ptr<http::HttpClient> http)
      : options_(std::move(options)), http_(std::move(http)) {}
  std::string name() const override { return "prometheus/" + options_.query; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kAverageValue, options_.threshold, options_.activationThreshold};
  }
  Result<ScalerReading> read() override;

 private:
  PrometheusOptions options_;
  std::shared_ptr<http::HttpClient> http_;
};

}  // namespace sluice::scalers
