#include "scalers/rabbitmq_amqp_depth.h"

#include "clients/amqp_connection.h"

namespace sluice::scalers {

AmqpQueueDepth::AmqpQueueDepth(std::string url, clients::AmqpTls tls, std::string queue)
    : url_(std::move(url)),
      tls_(std::move(tls)),
      queue_(std::move(queue)),
      connection_(std::make_unique<clients::AmqpConnection>()) {}

AmqpQueueDepth::~AmqpQueueDepth() = default;

Result<int64_t> AmqpQueueDepth::declarePassive() {
  if (!connection_->isOpen()) {
    if (Status s = connection_->open(url_, /*heartbeatSeconds=*/30, tls_); !s.isOk()) return s;
  }
  amqp_bytes_t name{queue_.size(), const_cast<char*>(queue_.data())};
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(connection_->state(), clients::AmqpConnection::kChannel, name,
                                                   /*passive=*/1, 0, 0, 0, amqp_empty_table);
  Status status = connection_->checkReply("rabbitmq depth of queue " + queue_ + ": passive queue.declare");
  if (!status.isOk() || ok == nullptr) {
    // The channel (or the connection) is gone after an error: start afresh next time.
    connection_->close(false);
    return status.isOk() ? unavailable("rabbitmq depth of queue " + queue_ + ": no declare-ok") : status;
  }
  return static_cast<int64_t>(ok->message_count);
}

Result<int64_t> AmqpQueueDepth::readyMessages() {
  const bool wasOpen = connection_->isOpen();
  Result<int64_t> count = declarePassive();
  // A connection that died while idle (broker restart, missed heartbeats) gets one fresh try.
  if (!count.isOk() && wasOpen && count.status().code() != StatusCode::kNotFound) count = declarePassive();
  return count;
}

}  // namespace sluice::scalers
