#include "http/metrics_response.h"

#include <prometheus/text_serializer.h>

namespace sluice::http {

std::string prometheusText(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

ServerResponse metricsResponse(std::string text) {
  ServerResponse response;
  response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = std::move(text);
  return response;
}

}  // namespace sluice::http
