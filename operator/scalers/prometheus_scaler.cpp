#include "scalers/prometheus_scaler.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace sluice::scalers {

Result<ScalerReading> PrometheusScaler::read() {
  std::string base = options_.serverAddress;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string what = "prometheus query " + options_.query;
  Result<http::Response> response =
      http::get(*http_, base + "/api/v1/query?query=" + percentEncode(options_.query), kHttpTimeout);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return http::statusError(*response, what);
  double value = 0;
  try {
    nlohmann::json body = nlohmann::json::parse(response->body);
    if (body.value("status", "") != "success") return internalError(what + ": status " + body.value("status", "?"));
    const nlohmann::json& data = body.at("data");
    std::string type = data.at("resultType").get<std::string>();
    const nlohmann::json& result = data.at("result");
    const nlohmann::json* sample = nullptr;
    if (type == "scalar") {
      sample = &result;
    } else if (type == "vector") {
      if (result.size() > 1) {
        return invalidArgument(what + ": returned " + std::to_string(result.size()) + " series; expected one");
      }
      if (result.empty()) {
        if (!options_.ignoreNullValues) return notFound(what + ": returned no series");
      } else {
        sample = &result[0].at("value");
      }
    } else {
      return invalidArgument(what + ": result type " + type + " is not a scalar or an instant vector");
    }
    if (sample != nullptr) value = std::stod(sample->at(1).get<std::string>());
  } catch (const std::exception& e) {
    return internalError(what + ": bad answer: " + e.what());
  }
  if (std::isnan(value)) value = 0;  // e.g. a rate over no samples
  ScalerReading reading;
  reading.value = value;
  reading.active = value > options_.activationThreshold;
  return reading;
}

}  // namespace sluice::scalers
