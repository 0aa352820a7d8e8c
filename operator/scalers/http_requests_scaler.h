// HttpRequestsScaler: the requests a Function has at the gateway, for an
// http Trigger. Reads every gateway replica's /loads (operator/gateway) and
// sums the Function's pending (queued, e.g. while at zero) and in-flight
// requests — the concurrency it is asked for — and its request rate (each
// gateway's requestsPerSecond over its trailing window). The value is the
// concurrency, desired = ceil(concurrency / targetConcurrency), or with a
// requests-per-second target the rate, desired = ceil(rate / target). The
// engine averages either over its stable and panic windows (windowed, as
// Knative's KPA). Asynchronous invocations waiting in the Trigger's queue or
// topic (`backlog`, a queue-depth or Kafka-lag scaler) are requests too:
// added to the concurrency; with a rate target they keep the Function awake
// (their arrivals are in the rate already: the gateway counts each one it
// accepted). Any request
// activates a Function at zero. A gateway that does not answer is left out
// (the others still count); none answering is an error.
// Thread-compatible.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct HttpRequestsOptions {
  std::string ns;
  std::string function;
  double target = 1;  // per replica: requests at once, or requests per second
  bool requestsPerSecond = false;
  // The /loads URLs of the gateway replicas, asked each round (they come and go).
  std::function<std::vector<std::string>()> gatewayLoadsUrls;
  // The depth of the Trigger's asynchronous-invocation queue, when it has one.
  std::shared_ptr<Scaler> backlog;
};

class HttpRequestsScaler final : public Scaler {
 public:
  HttpRequestsScaler(HttpRequestsOptions options, std::shared_ptr<http::HttpClient> http)
      : options_(std::move(options)), http_(std::move(http)) {}
  std::string name() const override { return "http/" + options_.ns + "/" + options_.function; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kAverageValue, options_.target, 0, /*windowed=*/true};
  }
  Result<ScalerReading> read() override;

 private:
  HttpRequestsOptions options_;
  std::shared_ptr<http::HttpClient> http_;
};

}  // namespace sluice::scalers
