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

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "http/http_client.h"
#include "kube/resource_client.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct RuntimeCpuOptions {
  double targetUtilizationPercent = 80;
  double requestedCores = 1;
  // The replicas' metrics URLs, asked again every round (replicas come and go).
  std::function<std::vector<std::string>()> metricsUrls;
  // The name an https URL's certificate must carry (the replicas' control
  // port serves TLS with a certificate for its namespace, not its address).
  std::string tlsServerName;
};

// Cores of a Kubernetes CPU quantity: "500m" -> 0.5, "2" -> 2, "1.5" -> 1.5,
// "250000000n" -> 0.25, "1500u" -> 0.0015 (metrics.k8s.io reports usage in n).
// Requests must be positive; usage may be 0 (`allowZero`). Errors name the text.
Result<double> parseCpuQuantity(const std::string& text, bool allowZero = false);

class RuntimeCpuScaler final : public Scaler {
 public:
  RuntimeCpuScaler(RuntimeCpuOptions options, std::shared_ptr<http::HttpClient> http, const Clock& clock)
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
  std::shared_ptr<http::HttpClient> http_;
  const Clock& clock_;
  std::map<std::string, Sample> previous_;
};

// MetricsApiCpuScaler: CPU utilization from metrics.k8s.io (metrics-server),
// as the HPA reads it: each Ready replica's PodMetrics (usage summed over its
// containers) against the request, averaged over the replicas metrics-server
// has measured. Where the API is absent (404: no metrics-server), it reads
// through `fallback` (the runtime's own figures) and asks the API again after
// `absentRecheck`. No Ready replica reads 0, as RuntimeCpuScaler does; Ready
// replicas without PodMetrics yet are an error (the engine holds the count).
// Thread-compatible.
struct MetricsApiCpuOptions {
  std::string ns;
  std::string labelSelector;  // the Function's replicas, e.g. "sluice.io/function=orders"
  double targetUtilizationPercent = 80;
  double requestedCores = 1;
  // The names of the Function's Ready replica pods, asked every round.
  std::function<std::vector<std::string>()> readyPods;
  std::chrono::seconds absentRecheck{300};
};

class MetricsApiCpuScaler final : public Scaler {
 public:
  MetricsApiCpuScaler(MetricsApiCpuOptions options, kube::ResourceClient& client, std::unique_ptr<Scaler> fallback,
                      const Clock& clock)
      : options_(std::move(options)), client_(client), fallback_(std::move(fallback)), clock_(clock) {}
  std::string name() const override { return "cpu"; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kUtilization, options_.targetUtilizationPercent, 0};
  }
  Result<ScalerReading> read() override;

 private:
  MetricsApiCpuOptions options_;
  kube::ResourceClient& client_;
  std::unique_ptr<Scaler> fallback_;
  const Clock& clock_;
  std::optional<Clock::TimePoint> absentSince_;
};

// metrics.k8s.io/v1beta1 PodMetrics.
inline const kube::ResourceType kPodMetrics{"metrics.k8s.io", "v1beta1", "pods", "PodMetrics", true};

}  // namespace sluice::scalers
