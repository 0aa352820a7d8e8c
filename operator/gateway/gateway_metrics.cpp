#include "gateway/gateway_metrics.h"

#include <prometheus/collectable.h>

namespace sluice::gateway {

class GatewayMetrics::LoadCollector final : public prometheus::Collectable {
 public:
  explicit LoadCollector(const Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    auto family = [](const char* name, const char* help) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = prometheus::MetricType::Gauge;
      return f;
    };
    auto pending = family("sluice_gateway_pending_requests", "Requests queued for a replica of the Function");
    auto inFlight = family("sluice_gateway_in_flight_requests", "Requests sent to a replica and not answered yet");
    auto replicas = family("sluice_gateway_ready_replicas", "Replicas of the Function the gateway routes to");
    for (const FunctionLoad& load : dispatcher_.loads()) {
      const size_t slash = load.key.find('/');
      std::vector<prometheus::ClientMetric::Label> labels{{"namespace", load.key.substr(0, slash)},
                                                          {"function", load.key.substr(slash + 1)}};
      auto add = [&labels](prometheus::MetricFamily& f, double value) {
        prometheus::ClientMetric sample;
        sample.label = labels;
        sample.gauge.value = value;
        f.metric.push_back(std::move(sample));
      };
      add(pending, load.pending);
      add(inFlight, load.inFlight);
      add(replicas, load.replicas);
    }
    return {pending, inFlight, replicas};
  }

 private:
  const Dispatcher& dispatcher_;
};

GatewayMetrics::GatewayMetrics(std::shared_ptr<prometheus::Registry> registry, const Dispatcher& dispatcher)
    : registry_(std::move(registry)),
      loads_(std::make_shared<LoadCollector>(dispatcher)),
      requests_(prometheus::BuildCounter()
                    .Name("sluice_gateway_requests_total")
                    .Help("Requests the gateway answered, by Function and HTTP status")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("sluice_gateway_request_duration_seconds")
                    .Help("Time from reading a request to answering it, queueing included")
                    .Register(*registry_)) {}

GatewayMetrics::~GatewayMetrics() = default;

std::shared_ptr<prometheus::Collectable> GatewayMetrics::collector() const { return loads_; }

void GatewayMetrics::observe(const std::string& ns, const std::string& function, int status, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                0.25,  0.5,    1,     2.5,  5,     10,   30};
  prometheus::Counter* requests = nullptr;
  prometheus::Histogram* duration = nullptr;
  {
    std::lock_guard lock(mu_);
    Series& series = series_[ns + "/" + function];
    if (!series.duration) series.duration = &duration_.Add({{"namespace", ns}, {"function", function}}, kBuckets);
    for (const auto& [code, counter] : series.requests) {
      if (code == status) requests = counter;
    }
    if (!requests) {
      requests = &requests_.Add({{"namespace", ns}, {"function", function}, {"code", std::to_string(status)}});
      series.requests.emplace_back(status, requests);
    }
    duration = series.duration;
  }
  requests->Increment();
  duration->Observe(seconds);
}

}  // namespace sluice::gateway
