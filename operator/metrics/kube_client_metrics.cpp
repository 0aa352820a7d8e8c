#include "metrics/kube_client_metrics.h"

#include <algorithm>
#include <string>
#include <vector>

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
  requests_ = &prometheus::BuildCounter()
                   .Name("sluice_kube_client_requests_total")
                   .Help("Requests the operator's apiserver client sent (retries too), by verb and resource")
                   .Register(*registry);
}

void KubeClientMetrics::recordRequest(std::string_view method, std::string_view path) {
  requests_->Add({{"verb", std::string(method)}, {"resource", apiResourceOf(path)}}).Increment();
}

std::string apiResourceOf(std::string_view path) {
  path = path.substr(0, path.find('?'));
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= path.size();) {
    const size_t slash = std::min(path.find('/', start), path.size());
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  // /api/VERSION/... or /apis/GROUP/VERSION/...
  size_t at = 0;
  if (!parts.empty() && parts[0] == "api") {
    at = 2;
  } else if (!parts.empty() && parts[0] == "apis") {
    at = 3;
  } else {
    return "other";
  }
  if (at >= parts.size()) return "other";
  // namespaces/NS/RESOURCE/...: the resource is the one after the namespace, unless that is all.
  if (parts[at] == "namespaces" && at + 2 < parts.size()) at += 2;
  std::string resource(parts[at]);
  if (at + 2 < parts.size()) resource += "/" + std::string(parts[at + 2]);
  return resource;
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
