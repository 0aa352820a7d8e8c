// RabbitMQQueueScaler: queue depth from the RabbitMQ management HTTP API.
//
// Mode kMessages counts ready + unacknowledged (`messages`, as KEDA's http
// protocol), kMessagesReady only ready ones (`messages_ready`). The management
// API refreshes its counters every few seconds, so a depth may trail the queue
// briefly. With a QueueDepthProbe (AMQP passive declare) as well, the value is
// the larger of the two, so messages show at once; with only the probe (no
// management URL), the value is the ready count. Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "http/http_client.h"
#include "scalers/rabbitmq_amqp_depth.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

struct RabbitMQQueueOptions {
  std::string managementUrl;  // http://user:pass@127.0.0.1:15672
  std::string vhost = "/";
  std::string queue;
  enum class Mode { kMessages, kMessagesReady };
  Mode mode = Mode::kMessages;
  double queueLength = 20;  // KEDA's default target per replica
  double activationQueueLength = 0;
};

class RabbitMQQueueScaler final : public Scaler {
 public:
  RabbitMQQueueScaler(RabbitMQQueueOptions options, std::shared_ptr<http::HttpClient> http,
                      std::unique_ptr<QueueDepthProbe> probe = nullptr)
      : options_(std::move(options)), http_(std::move(http)), probe_(std::move(probe)) {}
  std::string name() const override { return "rabbitmq/" + options_.queue; }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kAverageValue, options_.queueLength, options_.activationQueueLength};
  }
  Result<ScalerReading> read() override;

 private:
  // The queue's depth plus its probation queue's (clients::probationQueueOf).
  Result<double> managementDepth();
  // One queue's; with `missingIsEmpty`, a queue that does not exist (404) counts 0.
  Result<double> managementDepthOf(const std::string& queue, bool missingIsEmpty);
  RabbitMQQueueOptions options_;
  std::shared_ptr<http::HttpClient> http_;
  std::unique_ptr<QueueDepthProbe> probe_;
};

}  // namespace sluice::scalers
