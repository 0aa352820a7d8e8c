// How every Sluice binary serves Prometheus' /metrics: the text exposition
// format (0.0.4) of metric families, and the response that carries it. The
// operator, the gateway and the runtime all answer a scrape through these, so
// the bytes and the content type Prometheus sees are the same everywhere.
// Pure functions; callable from any thread.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "http/http_server.h"

namespace sluice::http {

// The families in Prometheus' text exposition format.
std::string prometheusText(const std::vector<prometheus::MetricFamily>& families);

// 200 with `text` (prometheusText, possibly with samples appended) as a scrape's answer.
ServerResponse metricsResponse(std::string text);

}  // namespace sluice::http
