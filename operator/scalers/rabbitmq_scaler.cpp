#include "scalers/rabbitmq_scaler.h"

#include <nlohmann/json.hpp>

namespace sluice::scalers {

Result<ScalerReading> RabbitMQQueueScaler::read() {
  std::string base = options_.managementUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string what = "rabbitmq depth of queue " + options_.queue;
  Result<HttpResponse> response =
      http_->get(base + "/api/queues/" + percentEncode(options_.vhost) + "/" + percentEncode(options_.queue));
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return httpStatusError(*response, what);
  const char* field = options_.mode == RabbitMQQueueOptions::Mode::kMessages ? "messages" : "messages_ready";
  try {
    nlohmann::json body = nlohmann::json::parse(response->body);
    // A queue declared moments ago has no counters yet: that is an empty queue.
    double depth = body.contains(field) && body[field].is_number() ? body[field].get<double>() : 0;
    ScalerReading reading;
    reading.value = depth;
    reading.active = depth > options_.activationQueueLength;
    return reading;
  } catch (const nlohmann::json::exception& e) {
    return internalError(what + ": bad management API answer: " + e.what());
  }
}

}  // namespace sluice::scalers
