#include "runtime/sources/rabbitmq_consumer.h"

#include <amqp_framing.h>

#include <algorithm>
#include <vector>

#include "clients/amqp_properties.h"
#include "common/logging.h"
#include "runtime/sources/amqp_headers.h"

namespace sluice::runtime {

namespace {

// Properties and body of a message, delivered or got.
void readMessage(const amqp_message_t& message, AmqpDelivery& delivery) {
  const amqp_basic_properties_t& props = message.properties;
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
  delivery.properties = clients::propertiesFromAmqp(props);
  delivery.body = clients::bytesToString(message.body);
}

AmqpDelivery deliveryOf(const amqp_envelope_t& envelope) {
  AmqpDelivery delivery;
  delivery.deliveryTag = envelope.delivery_tag;
  delivery.redelivered = envelope.redelivered != 0;
  readMessage(envelope.message, delivery);
  delivery.routingKey = clients::bytesToString(envelope.routing_key);
  delivery.exchange = clients::bytesToString(envelope.exchange);
  return delivery;
}

using clients::bytesOf;

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
  close(/*graceful=*/false);  // the other of the two connections may still be open: start both afresh
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
  if (Status status = openProbation(); !status.isOk()) {
    close(/*graceful=*/false);
    return status.withContext(where + ", probation queue \"" + probationQueue_ + "\"");
  }
  return Status::ok();
}

Status RabbitMqConsumer::openProbation() {
  if (Status status = probation_.open(options_.url, options_.heartbeatSeconds, options_.tls); !status.isOk()) {
    return status;
  }
  probationBeat_ = std::chrono::steady_clock::now();
  amqp_connection_state_t state = probation_.state();
  amqp_queue_declare(state, clients::AmqpConnection::kChannel, amqp_cstring_bytes(probationQueue_.c_str()),
                     /*passive=*/1, 0, 0, 0, amqp_empty_table);
  Status exists = probation_.checkReply("queue.declare (passive)");
  probationExists_ = exists.isOk();
  if (exists.code() == StatusCode::kNotFound) {
    // The broker closed the channel over the missing queue: acknowledge that and open it again.
    amqp_channel_close_ok_t closeOk{};
    if (int rc = amqp_send_method(state, clients::AmqpConnection::kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOk);
        rc != AMQP_STATUS_OK) {
      return unavailable(std::string("channel.close-ok: ") + amqp_error_string2(rc));
    }
    amqp_channel_open(state, clients::AmqpConnection::kChannel);
    if (Status reopened = probation_.checkReply("channel.open"); !reopened.isOk()) return reopened;
  } else if (!exists.isOk()) {
    return exists;
  }
  amqp_confirm_select(state, clients::AmqpConnection::kChannel);
  return probation_.checkReply("confirm.select");
}

Status RabbitMqConsumer::sendHeartbeat() {
  if (Status status = connection_.sendHeartbeat(); !status.isOk()) return status;
  probationBeat_ = std::chrono::steady_clock::now();
  return probation_.sendHeartbeat();
}

void RabbitMqConsumer::probationHeartbeat() {
  const auto now = std::chrono::steady_clock::now();
  if (now - probationBeat_ < std::chrono::seconds(options_.heartbeatSeconds) / 3) return;
  probationBeat_ = now;
  if (Status sent = probation_.sendHeartbeat(); !sent.isOk()) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: probation connection: {}; reconnecting", options_.triggerName,
                    sent.message());
    close(/*graceful=*/false);
  }
}

Status RabbitMqConsumer::ensureProbation(bool quorum) {
  if (probationExists_) return Status::ok();
  amqp_table_entry_t type{};
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  const amqp_table_t arguments = quorum ? amqp_table_t{1, &type} : amqp_empty_table;
  amqp_queue_declare(probation_.state(), clients::AmqpConnection::kChannel, amqp_cstring_bytes(probationQueue_.c_str()),
                     /*passive=*/0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0, arguments);
  if (Status status = probation_.checkReply("queue.declare \"" + probationQueue_ + "\""); !status.isOk()) {
    close(/*graceful=*/false);  // the broker closed the channel
    return status;
  }
  probationExists_ = true;
  SLUICE_LOG_INFO("rabbitmq trigger {}: declared the probation queue {} ({})", options_.triggerName, probationQueue_,
                  quorum ? "quorum" : "classic");
  return Status::ok();
}

Status RabbitMqConsumer::publishProbation(const AmqpDelivery& message) {
  return publishConfirmed(probationQueue_, message);
}

Status RabbitMqConsumer::returnToQueue(const AmqpDelivery& message) {
  return publishConfirmed(options_.queue, message);
}

Status RabbitMqConsumer::publishConfirmed(const std::string& queue, const AmqpDelivery& message) {
  amqp_maybe_release_buffers(probation_.state());  // the frames of earlier confirms
  auto copy = probationCopyProperties(message);
  if (!copy.isOk()) return copy.status().withContext("a copy for queue \"" + queue + "\"");
  clients::OutgoingAmqpProperties props;
  if (Status status = props.set(*copy); !status.isOk()) return status.withContext("a copy for queue \"" + queue + "\"");
  // mandatory: were the queue deleted meanwhile, the broker returns the copy
  // (then confirms it) instead of confirming a copy it dropped.
  int rc = amqp_basic_publish(probation_.state(), clients::AmqpConnection::kChannel, amqp_empty_bytes,
                              amqp_cstring_bytes(queue.c_str()), /*mandatory=*/1, /*immediate=*/0, &props.get(),
                              bytesOf(message.body));
  if (rc != AMQP_STATUS_OK) {
    close(/*graceful=*/false);
    return unavailable("basic.publish to queue \"" + queue + "\": " + amqp_error_string2(rc));
  }
  return waitForConfirm();
}

Status RabbitMqConsumer::waitForConfirm() {
  bool returned = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    amqp_frame_t frame;
    timeval wait{1, 0};
    int rc = amqp_simple_wait_frame_noblock(probation_.state(), &frame, &wait);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) break;
    // A returned copy's header and body frames are not methods: skipped.
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD:
        if (!returned) return Status::ok();
        probationExists_ = false;
        close(/*graceful=*/false);
        return unavailable("the probation queue \"" + probationQueue_ + "\" is gone (the copy was returned)");
      case AMQP_BASIC_RETURN_METHOD: returned = true; break;
      case AMQP_BASIC_NACK_METHOD:
        close(/*graceful=*/false);
        return unavailable("the broker refused the copy for the probation queue (basic.nack)");
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: close(/*graceful=*/false); return unavailable("the broker closed the channel");
      default: break;
    }
  }
  close(/*graceful=*/false);
  return unavailable("no confirm of the copy for the probation queue");
}

ConsumeResult RabbitMqConsumer::getProbation(AmqpDelivery& delivery) {
  amqp_connection_state_t state = probation_.state();
  amqp_maybe_release_buffers(state);
  probationBeat_ = std::chrono::steady_clock::now();
  amqp_rpc_reply_t reply = amqp_basic_get(state, clients::AmqpConnection::kChannel,
                                          amqp_cstring_bytes(probationQueue_.c_str()), /*no_ack=*/0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: basic.get of the probation queue failed; reconnecting", options_.triggerName);
    probationExists_ = false;  // perhaps deleted: open() looks again
    close(/*graceful=*/false);
    return ConsumeResult::kClosed;
  }
  if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return ConsumeResult::kNothing;
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
  delivery = AmqpDelivery{};
  delivery.deliveryTag = ok->delivery_tag;
  delivery.redelivered = ok->redelivered != 0;
  delivery.exchange = clients::bytesToString(ok->exchange);
  amqp_message_t message;
  if (amqp_read_message(state, clients::AmqpConnection::kChannel, &message, 0).reply_type != AMQP_RESPONSE_NORMAL) {
    close(/*graceful=*/false);
    return ConsumeResult::kClosed;
  }
  readMessage(message, delivery);
  amqp_destroy_message(&message);
  // As first published: what its handler's outputs, or a mirror, carry on.
  restoreProbationProperties(delivery);
  return ConsumeResult::kDelivery;
}

Status RabbitMqConsumer::ackProbation(uint64_t deliveryTag) {
  int rc = amqp_basic_ack(probation_.state(), clients::AmqpConnection::kChannel, deliveryTag, 0);
  return rc == AMQP_STATUS_OK ? Status::ok() : unavailable(std::string("basic.ack: ") + amqp_error_string2(rc));
}

Status RabbitMqConsumer::nackProbation(uint64_t deliveryTag, bool requeue) {
  int rc = amqp_basic_nack(probation_.state(), clients::AmqpConnection::kChannel, deliveryTag, 0, requeue ? 1 : 0);
  return rc == AMQP_STATUS_OK ? Status::ok() : unavailable(std::string("basic.nack: ") + amqp_error_string2(rc));
}

ConsumeResult RabbitMqConsumer::consume(std::chrono::milliseconds timeout, AmqpDelivery& delivery) {
  probationHeartbeat();
  if (!isOpen()) return ConsumeResult::kClosed;
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
