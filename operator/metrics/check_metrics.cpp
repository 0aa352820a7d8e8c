#include "metrics/check_metrics.h"

#include <cpprest/http_client.h>

#include <chrono>

namespace sluice::metrics {

Status checkMetricsEndpoint(const std::string& url) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(10));
    web::http::client::http_client client(url, config);
    web::http::http_response response = client.request(web::http::methods::GET).get();
    const std::string body = response.extract_utf8string(true).get();
    if (response.status_code() != web::http::status_codes::OK) {
      return unavailable(url + " answered HTTP " + std::to_string(response.status_code()));
    }
    if (body.find("sluice_operator_build_info{") == std::string::npos) {
      return unavailable(url + " has no sluice_operator_build_info series");
    }
  } catch (const std::exception& e) {
    return unavailable(url + ": " + e.what());
  }
  return Status::ok();
}

}  // namespace sluice::metrics
