#include "scalers/http_requests_scaler.h"

#include <nlohmann/json.hpp>

namespace sluice::scalers {

Result<ScalerReading> HttpRequestsScaler::read() {
  std::vector<std::string> urls = options_.gatewayLoadsUrls ? options_.gatewayLoadsUrls() : std::vector<std::string>{};
  if (urls.empty())
    return unavailable("http requests of " + options_.ns + "/" + options_.function + ": no gateway known");
  double requests = 0;
  double rate = 0;
  int answered = 0;
  std::string lastError;
  for (const std::string& url : urls) {
    Result<http::Response> response = http::get(*http_, url, kHttpTimeout);
    if (!response.isOk()) {
      lastError = response.status().withContext(url).toString();
      continue;
    }
    if (response->status != 200) {
      lastError = http::statusError(*response, "gateway loads " + url).toString();
      continue;
    }
    nlohmann::json loads = nlohmann::json::parse(response->body, nullptr, false);
    if (!loads.is_object() || !loads.contains("functions") || !loads["functions"].is_array()) {
      lastError = "gateway loads " + url + ": not a {\"functions\": [...]} document";
      continue;
    }
    ++answered;
    for (const nlohmann::json& load : loads["functions"]) {
      if (!load.is_object() || load.value("namespace", "") != options_.ns ||
          load.value("name", "") != options_.function)
        continue;
      requests += load.value("pending", 0) + load.value("inFlight", 0);
      rate += load.value("requestsPerSecond", 0.0);
    }
  }
  if (answered == 0) {
    return unavailable("http requests of " + options_.ns + "/" + options_.function + ": no gateway answered (" +
                       lastError + ")");
  }
  double queued = 0;
  if (options_.backlog) {
    Result<ScalerReading> backlog = options_.backlog->read();
    if (backlog.isOk()) {
      queued = backlog->value;
    } else if (backlog.status().code() != StatusCode::kNotFound) {
      // No queue yet (no invocation, no replica declared it) means none waiting; other errors are not silence.
      return backlog.status().withContext("asynchronous invocations of " + options_.ns + "/" + options_.function);
    }
  }
  ScalerReading reading;
  reading.value = options_.requestsPerSecond ? rate : requests + queued;
  reading.active = requests + queued > 0 || rate > 0;
  return reading;
}

}  // namespace sluice::scalers
