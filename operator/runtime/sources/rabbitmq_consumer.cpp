#include "runtime/sources/rabbitmq_consumer.h"

#include <amqp_framing.h>

#include <algorithm>

#include "common/logging.h"
#include "runtime/sources/amqp_headers.h"

namespace sluice::runtime {

namespace {

AmqpDelivery deliveryOf(const amqp_envelope_t& envelope) {
  AmqpDelivery delivery;
  delivery.deliveryTag = envelope.delivery_tag;
  delivery.redelivered = envelope.redelivered != 0;
  const amqp_basic_properties_t& props = envelope.message.properties;
  if ((props._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) delivery.messageId = clients::bytesToString(props.message_id);
  if ((props._flags & AMQP_BASIC_CORRELATION_ID_FLAG) != 0) {
    delivery.correlationId = clients::bytesToString(props.correlation_id);
  }
  if ((props._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0) {
    delivery.contentType = clients::bytesToString(props.content_type);
  }
  if ((props._flags & AMQP_BASIC_EXPIRATION_FLAG) != 0) delivery.expiration = clients::bytesToString(props.expiration);
  if ((props._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) delivery.priority = props.priority;
  if ((props._flags & AMQP_BASIC_HEADERS_FLAG) != 0) delivery.headers = amqpTableToHeaders(props.headers);
  if ((props._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
    delivery.timestampSeconds = static_cast<int64_t>(props.timestamp);
  }
  delivery.routingKey = clients::bytesToString(envelope.routing_key);
  delivery.body = clients::bytesToString(envelope.message.body);
  return delivery;
}

}  // namespace

Status RabbitMqConsumer::declareBindings() {
  if (Status status = connection_.ensureDurableQueue(options_.queue); !status.isOk()) {
    return status.withContext("spec.rabbitmq.queue");
  }
  // No routing key: one binding with the empty key (what fanout and headers exchanges take).
  std::vector<std::string> keys = options_.routingKeys;
  if (keys.empty()) keys.emplace_back();
  for (const std::string& key : keys) {
    Status bound = connection_.bindQueue(options_.queue, options_.exchange, key);
    if (bound.code() == StatusCode::kNotFound) {
      return Status(StatusCode::kNotFound, "spec.rabbitmq.exchange: exchange \"" + options_.exchange +
                                               "\" does not exist (" + bound.message() + ")");
    }
    if (!bound.isOk()) return bound.withContext("spec.rabbitmq.routingKeys");
  }
  return options_.boundKeys ? removeStaleBindings(keys) : Status::ok();
}

Status RabbitMqConsumer::removeStaleBindings(const std::vector<std::string>& wanted) {
  auto bound = options_.boundKeys();
  if (!bound.isOk()) {
    // Consuming with an extra binding beats not consuming: the next connect tries again.
    SLUICE_LOG_WARN("rabbitmq trigger {}: stale bindings of queue {} kept: {}", options_.triggerName, options_.queue,
                    bound.status().toString());
    return Status::ok();
  }
  for (const std::string& key : *bound) {
    if (std::find(wanted.begin(), wanted.end(), key) != wanted.end()) continue;
    if (Status removed = connection_.unbindQueue(options_.queue, options_.exchange, key); !removed.isOk()) {
      return removed.withContext("spec.rabbitmq.routingKeys");
    }
    SLUICE_LOG_INFO(
        "rabbitmq trigger {}: removed the binding of queue {} to exchange {} with key \"{}\" "
        "(no longer in routingKeys)",
        options_.triggerName, options_.queue, options_.exchange, key);
  }
  return Status::ok();
}

Status RabbitMqConsumer::open() {
  std::string where = "rabbitmq trigger \"" + options_.triggerName + "\"";
  if (Status status = connection_.open(options_.url, options_.heartbeatSeconds, options_.tls); !status.isOk()) {
    return status.withContext(where);
  }
  amqp_connection_state_t state = connection_.state();
  if (options_.declareQueue) {
    if (Status status = connection_.declareDurableQueue(options_.queue); !status.isOk()) {
      connection_.close();
      return status.withContext(where);
    }
  }
  if (!options_.exchange.empty()) {
    if (Status status = declareBindings(); !status.isOk()) {
      connection_.close(/*graceful=*/false);
      return status.withContext(where);
    }
  }
  amqp_basic_qos(state, clients::AmqpConnection::kChannel, 0, static_cast<uint16_t>(options_.prefetch), 0);
  if (Status status = connection_.checkReply("basic.qos"); !status.isOk()) return status.withContext(where);
  amqp_basic_consume_ok_t* ok =
      amqp_basic_consume(state, clients::AmqpConnection::kChannel, amqp_cstring_bytes(options_.queue.c_str()),
                         amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
  if (Status status = connection_.checkReply("basic.consume on queue \"" + options_.queue + "\"");
      !status.isOk() || ok == nullptr) {
    connection_.close();
    return status.withContext(where);
  }
  consumerTag_ = clients::bytesToString(ok->consumer_tag);
  return Status::ok();
}

ConsumeResult RabbitMqConsumer::consume(std::chrono::milliseconds timeout, AmqpDelivery& delivery) {
  amqp_connection_state_t state = connection_.state();
  amqp_maybe_release_buffers(state);
  amqp_envelope_t envelope;
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval wait{static_cast<time_t>(micros / 1'000'000), static_cast<suseconds_t>(micros % 1'000'000)};
  amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &wait, 0);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    if (reply.library_error == AMQP_STATUS_TIMEOUT) return ConsumeResult::kNothing;
    if (reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) return handleUnexpectedFrame();
    SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName,
                    amqp_error_string2(reply.library_error));
    connection_.close(/*graceful=*/false);
    return ConsumeResult::kClosed;
  }
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: unexpected reply while consuming; reconnecting", options_.triggerName);
    connection_.close(/*graceful=*/false);
    return ConsumeResult::kClosed;
  }
  delivery = deliveryOf(envelope);
  amqp_destroy_envelope(&envelope);
  return ConsumeResult::kDelivery;
}

ConsumeResult RabbitMqConsumer::handleUnexpectedFrame() {
  amqp_frame_t frame;
  if (amqp_simple_wait_frame(connection_.state(), &frame) != AMQP_STATUS_OK) {
    connection_.close(/*graceful=*/false);
    return ConsumeResult::kClosed;
  }
  if (frame.frame_type != AMQP_FRAME_METHOD) return ConsumeResult::kNothing;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD:
      SLUICE_LOG_WARN("rabbitmq trigger {}: the broker cancelled the consumer (queue deleted?)", options_.triggerName);
      connection_.close();
      return ConsumeResult::kClosed;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      SLUICE_LOG_WARN("rabbitmq trigger {}: the broker closed the channel; reconnecting", options_.triggerName);
      connection_.close(/*graceful=*/false);
      return ConsumeResult::kClosed;
    default: return ConsumeResult::kNothing;  // basic.ack, basic.cancel-ok, ...
  }
}

Status RabbitMqConsumer::ack(uint64_t deliveryTag) {
  int rc = amqp_basic_ack(connection_.state(), clients::AmqpConnection::kChannel, deliveryTag, 0);
  return rc == AMQP_STATUS_OK ? Status::ok() : unavailable(std::string("basic.ack: ") + amqp_error_string2(rc));
}

Status RabbitMqConsumer::nack(uint64_t deliveryTag, bool requeue) {
  int rc = amqp_basic_nack(connection_.state(), clients::AmqpConnection::kChannel, deliveryTag, 0, requeue ? 1 : 0);
  return rc == AMQP_STATUS_OK ? Status::ok() : unavailable(std::string("basic.nack: ") + amqp_error_string2(rc));
}

void RabbitMqConsumer::cancel() {
  amqp_basic_cancel(connection_.state(), clients::AmqpConnection::kChannel, amqp_cstring_bytes(consumerTag_.c_str()));
}

}  // namespace sluice::runtime
