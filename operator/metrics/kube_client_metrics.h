// KubeClientMetrics: how long sluice-operator's apiserver client waited
// before requests, by cause (kube::TransportOptions::onWait):
//   sluice_kube_client_waits_total{cause}          counter
//   sluice_kube_client_wait_seconds_total{cause}   counter
// cause: rate_limit (the client-side --kube-api-qps/--kube-api-burst),
// throttled (the apiserver answered 429), server_error (5xx), unavailable (no
// answer). A rising `throttled` says the apiserver is pushing back; a rising
// `rate_limit` says the operator's own limit is what holds it.
// Thread-safe; record() allocates nothing.
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "common/clock.h"

namespace sluice::metrics {

class KubeClientMetrics {
 public:
  explicit KubeClientMetrics(const std::shared_ptr<prometheus::Registry>& registry);

  void record(std::string_view cause, Clock::Duration wait);

 private:
  static constexpr std::array<std::string_view, 4> kCauses{"rate_limit", "throttled", "server_error", "unavailable"};
  std::array<prometheus::Counter*, kCauses.size()> waits_{};
  std::array<prometheus::Counter*, kCauses.size()> seconds_{};
};

}  // namespace sluice::metrics
