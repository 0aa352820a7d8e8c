// HttpRequestsScaler: the requests a Function has at the gateway, for an
// http Trigger. Reads every gateway replica's /loads (operator/gateway) and
// sums the Function's pending (queued, e.g. while at zero) and in-flight
// requests: the concurrency it is asked for. desired = ceil(concurrency /
// target), target being the requests one replica is to take at once; any
// request activates a Function at zero. A gateway that does not answer is left
// out (the others still count); none answering is an error.
// Thread-compatible.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scalers/http_getter.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct HttpRequestsOptions {
  std::string ns;
  std::string function;
  double targetConcurrency = 1;  // per replica
  // The /loads URLs of the gateway replicas, asked each round (they come and go).
  std::function<std::vector<std::string>()> gatewayLoadsUrls;
};

class HttpRequestsScaler final : public Scaler {
 public:
  HttpRequestsScaler(HttpRequestsOptions options, std::shared_ptr<HttpGetter> http)
      : options_(std::move(options)), http_(std::move(http)) {}
  std::string name() const override { return "http/" + options_.ns + "/" + options_.function; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kAverageValue, options_.targetConcurrency, 0};
  }
  Result<ScalerReading> read() override;

 private:
  HttpRequestsOptions options_;
  std::shared_ptr<HttpGetter> http_;
};

}  // namespace sluice::scalers
