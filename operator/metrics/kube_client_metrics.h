// KubeClientMetrics: how long sluice-operator's apiserver client waited
// before requests, by cause (kube::TransportOptions::onWait):
//   sluice_kube_client_waits_total{cause}          counter
//   sluice_kube_client_wait_seconds_total{cause}   counter
// cause: rate_limit (the client-side --kube-api-qps/--kube-api-burst),
// throttled (the apiserver answered 429), server_error (5xx), unavailable (no
// answer). A rising `throttled` says the apiserver is pushing back; a rising
// `rate_limit` says the operator's own limit is what holds it.
//   sluice_kube_client_requests_total{verb,resource}  counter
// every request sent (each retry too), by HTTP method and the resource its
// path names ("pods", "functions/status", "leases"; see apiResourceOf): what
// the operator asks of the apiserver, and at what rate (bench/scale).
// Thread-safe. record() allocates nothing; recordRequest() parses the path and looks its series up
// per request (hundreds a second at most: a 1,000-Function apply at qps 200).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "common/clock.h"

namespace sluice::metrics {

class KubeClientMetrics {
 public:
  explicit KubeClientMetrics(const std::shared_ptr<prometheus::Registry>& registry);

  void record(std::string_view cause, Clock::Duration wait);
  void recordRequest(std::string_view method, std::string_view path);

 private:
  static constexpr std::array<std::string_view, 4> kCauses{"rate_limit", "throttled", "server_error", "unavailable"};
  std::array<prometheus::Counter*, kCauses.size()> waits_{};
  std::array<prometheus::Counter*, kCauses.size()> seconds_{};
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
};

// The resource an apiserver path names, with its subresource: "pods" for
// /api/v1/namespaces/a/pods/p, "functions/status" for
// /apis/sluice.io/v1alpha1/namespaces/a/functions/f/status, "namespaces" for
// /api/v1/namespaces/a; "other" for anything else (/version, /healthz).
std::string apiResourceOf(std::string_view path);

}  // namespace sluice::metrics
