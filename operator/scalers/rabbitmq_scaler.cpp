#include "scalers/rabbitmq_scaler.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "clients/amqp_connection.h"
#include "common/encoding.h"

namespace sluice::scalers {

Result<ScalerReading> RabbitMQQueueScaler::read() {
  std::optional<double> depth;
  if (!options_.managementUrl.empty()) {
    Result<double> management = managementDepth();
    // The management API also counts unacknowledged messages: without it the
    // count could drop below the work in flight, so its failure is the read's.
    if (!management.isOk()) return management.status();
    depth = *management;
  }
  if (probe_) {
    Result<int64_t> ready = probe_->readyMessages();
    if (ready.isOk()) {
      depth = std::max(depth.value_or(0), static_cast<double>(*ready));
    } else if (!depth) {
      return ready.status();
    }
  }
  if (!depth)
    return invalidArgument("rabbitmq depth of queue " + options_.queue + ": no management URL and no AMQP URL");
  ScalerReading reading;
  reading.value = *depth;
  reading.active = *depth > options_.activationQueueLength;
  return reading;
}

Result<double> RabbitMQQueueScaler::managementDepth() {
  Result<double> depth = managementDepthOf(options_.queue, /*missingIsEmpty=*/false);
  if (!depth.isOk()) return depth;
  // Redelivered messages wait in the probation queue for a replica to handle them one at a time.
  Result<double> probation = managementDepthOf(clients::probationQueueOf(options_.queue), /*missingIsEmpty=*/true);
  if (!probation.isOk()) return probation;
  return *depth + *probation;
}

Result<double> RabbitMQQueueScaler::managementDepthOf(const std::string& queue, bool missingIsEmpty) {
  std::string base = options_.managementUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string what = "rabbitmq depth of queue " + queue;
  Result<http::Response> response = http::get(
      *http_, base + "/api/queues/" + percentEncode(options_.vhost) + "/" + percentEncode(queue), kHttpTimeout);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status == 404 && missingIsEmpty) return 0.0;
  if (response->status != 200) return http::statusError(*response, what);
  const char* field = options_.mode == RabbitMQQueueOptions::Mode::kMessages ? "messages" : "messages_ready";
  try {
    nlohmann::json body = nlohmann::json::parse(response->body);
    // A queue declared moments ago has no counters yet: that is an empty queue.
    return body.contains(field) && body[field].is_number() ? body[field].get<double>() : 0.0;
  } catch (const nlohmann::json::exception& e) {
    return internalError(what + ": bad management API answer: " + e.what());
  }
}

}  // namespace sluice::scalers
