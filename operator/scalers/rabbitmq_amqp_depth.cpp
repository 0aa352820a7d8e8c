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

Result<int64_t> AmqpQueueDepth::probationMessages() {
  constexpr amqp_channel_t kProbationChannel = 2;
  amqp_connection_state_t state = connection_->state();
  const std::string probation = clients::probationQueueOf(queue_);
  const std::string what = "rabbitmq depth of queue " + probation;
  amqp_channel_open(state, kProbationChannel);
  if (Status opened = connection_->checkReply(what + ": channel.open"); !opened.isOk()) {
    connection_->close(false);
    return opened;
  }
  amqp_bytes_t name{probation.size(), const_cast<char*>(probation.data())};
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state, kProbationChannel, name, /*passive=*/1, 0, 0, 0, amqp_empty_table);
  Status status = connection_->checkReply(what + ": passive queue.declare");
  if (status.code() == StatusCode::kNotFound) {
    // The broker closed the channel over the missing queue: acknowledge it, so the channel can open again.
    amqp_channel_close_ok_t closeOk{};
    if (amqp_send_method(state, kProbationChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOk) != AMQP_STATUS_OK) {
      connection_->close(false);
    }
    return 0;
  }
  if (!status.isOk() || ok == nullptr) {
    connection_->close(false);
    return status.isOk() ? unavailable(what + ": no declare-ok") : status;
  }
  const auto count = static_cast<int64_t>(ok->message_count);
  amqp_channel_close(state, kProbationChannel, AMQP_REPLY_SUCCESS);
  return count;
}

Result<int64_t> AmqpQueueDepth::readyMessages() {
  const bool wasOpen = connection_->isOpen();
  Result<int64_t> count = declarePassive();
  // A connection that died while idle (broker restart, missed heartbeats) gets one fresh try.
  if (!count.isOk() && wasOpen && count.status().code() != StatusCode::kNotFound) count = declarePassive();
  if (!count.isOk()) return count;
  Result<int64_t> probation = probationMessages();
  if (!probation.isOk()) return probation.status();
  return *count + *probation;
}

}  // namespace sluice::scalers
