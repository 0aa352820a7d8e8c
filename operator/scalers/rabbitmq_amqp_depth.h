// AmqpQueueDepth: a queue's ready-message count from an AMQP passive
// queue.declare (rabbitmq-c), the alternative to the management API: it is
// current at once (the management API's counters refresh every few seconds),
// but it counts only ready messages, not unacknowledged ones.
// The count includes the queue's probation queue (clients::probationQueueOf),
// whose messages a replica still has to handle; read on a channel of its own,
// as it usually does not exist (a passive declare of a missing queue closes
// its channel). Keeps one connection and reconnects after a failure.
// Thread-compatible: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "clients/amqp_connection.h"
#include "common/status.h"

namespace sluice::scalers {

class QueueDepthProbe {
 public:
  virtual ~QueueDepthProbe() = default;
  virtual Result<int64_t> readyMessages() = 0;
};

class AmqpQueueDepth final : public QueueDepthProbe {
 public:
  AmqpQueueDepth(std::string url, clients::AmqpTls tls, std::string queue);
  ~AmqpQueueDepth() override;
  Result<int64_t> readyMessages() override;

 private:
  Result<int64_t> declarePassive();
  // The probation queue's ready messages; 0 when it does not exist.
  Result<int64_t> probationMessages();
  std::string url_;
  clients::AmqpTls tls_;
  std::string queue_;
  std::unique_ptr<clients::AmqpConnection> connection_;
};

}  // namespace sluice::scalers
