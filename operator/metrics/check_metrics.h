// checkMetricsEndpoint: fetches a /metrics URL and checks it is the
// operator's (HTTP 200 and a sluice_operator_build_info series). Used by
// `sluice-operator check-metrics`, the chart's `helm test`. Blocking; any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace sluice::metrics {

Status checkMetricsEndpoint(const std::string& url);

}  // namespace sluice::metrics
