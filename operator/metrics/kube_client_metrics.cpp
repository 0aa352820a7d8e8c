#include "metrics/kube_client_metrics.h"

#include <string>

namespace sluice::metrics {

KubeClientMetrics::KubeClientMetrics(const std::shared_ptr<prometheus::Registry>& registry) {
  auto& waits = prometheus::BuildCounter()
                    .Name("sluice_kube_client_waits_total")
                    .Help("Waits of the operator's apiserver client before a request, by cause")
                    .Register(*registry);
  auto& seconds = prometheus::BuildCounter()
                      .Name("sluice_kube_client_wait_seconds_total")
                      .Help("Seconds the operator's apiserver client waited before requests, by cause")
                      .Register(*registry);
  for (size_t i = 0; i < kCauses.size(); ++i) {
    waits_[i] = &waits.Add({{"cause", std::string(kCauses[i])}});
    seconds_[i] = &seconds.Add({{"cause", std::string(kCauses[i])}});
  }
}

void KubeClientMetrics::record(std::string_view cause, Clock::Duration wait) {
  for (size_t i = 0; i < kCauses.size(); ++i) {
    if (kCauses[i] != cause) continue;
    waits_[i]->Increment();
    seconds_[i]->Increment(std::chrono::duration<double>(wait).count());
    return;
  }
}

}  // namespace sluice::metrics
