#include "runtime/sources/rabbitmq_source.h"

#include "common/logging.h"
#include "runtime/sources/amqp_headers.h"

namespace sluice::runtime {

RabbitMqSource::RabbitMqSource(RabbitMqSourceOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

RabbitMqSource::~RabbitMqSource() {
  if (thread_.joinable()) {
    finishing_ = true;
    thread_.join();
  }
}

Status RabbitMqSource::connect() {
  std::string where = "rabbitmq trigger \"" + options_.triggerName + "\"";
  if (Status status = connection_.open(options_.url); !status.isOk()) return status.withContext(where);
  amqp_connection_state_t state = connection_.state();
  if (options_.httpInvocations) {
    if (Status status = connection_.declareDurableQueue(options_.queue); !status.isOk()) {
      connection_.close();
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
  ++generation_;
  return Status::ok();
}

Status RabbitMqSource::start(EventDispatcher& dispatcher) {
  if (options_.prefetch < 1 || options_.prefetch > 65535) {
    return invalidArgument("rabbitmq trigger \"" + options_.triggerName + "\": prefetch must be 1..65535, got " +
                           std::to_string(options_.prefetch));
  }
  if (Status status = connect(); !status.isOk()) return status;
  dispatcher_ = &dispatcher;
  thread_ = std::thread([this] { run(); });
  SLUICE_LOG_INFO("rabbitmq trigger {}: consuming queue {} with prefetch {}", options_.triggerName, options_.queue,
                  options_.prefetch);
  return Status::ok();
}

void RabbitMqSource::stopFetching() {
  fetching_ = false;
  if (!thread_.joinable()) return;
  // Wait until the source thread has seen it: after that it dispatches
  // nothing, so the drain's wait for an idle delivery loop cannot miss an
  // event dispatched a moment later (whose ack would then be lost with the
  // closed channel, making a duplicate). The thread checks at least every
  // consume timeout (100 ms); the bound only guards against a wedged socket.
  std::unique_lock lock(mu_);
  stoppedCv_.wait_for(lock, std::chrono::seconds(15), [&] { return dispatchStopped_; });
}

void RabbitMqSource::markDispatchStopped() {
  {
    std::lock_guard lock(mu_);
    dispatchStopped_ = true;
  }
  stoppedCv_.notify_all();
}

Status RabbitMqSource::finish(Clock::TimePoint) {
  if (!thread_.joinable()) return Status::ok();
  finishing_ = true;
  thread_.join();
  return Status::ok();
}

void RabbitMqSource::run() {
  bool cancelled = false;
  while (!finishing_) {
    if (!connection_.isOpen()) {
      if (!fetching_) break;  // nothing to ack on a new connection: the broker requeued everything
      if (Status status = connect(); !status.isOk()) {
        SLUICE_LOG_WARN("{}; retrying in {} ms", status.toString(), options_.reconnectDelay.count());
        clock_.sleepFor(options_.reconnectDelay, std::stop_token{});
        continue;
      }
    }
    processCompletions();
    if (!fetching_) {
      markDispatchStopped();
      if (!cancelled && connection_.isOpen()) {
        // Stop deliveries; unacked ones already here still get their acks.
        amqp_basic_cancel(connection_.state(), clients::AmqpConnection::kChannel,
                          amqp_cstring_bytes(consumerTag_.c_str()));
        cancelled = true;
      }
      clock_.sleepFor(std::chrono::milliseconds(5), std::stop_token{});
      continue;
    }
    // basic.qos(prefetch) bounds how many messages the broker hands this
    // source. With all of it in flight nothing new can arrive, so wait for a
    // completion (to ack it at once) instead of reading.
    if (outstanding_ >= options_.prefetch) {
      std::unique_lock lock(mu_);
      completionCv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !completions_.empty(); });
      continue;
    }
    // RabbitMQ ignores a prefetch size in bytes, so the byte budget is kept by
    // not reading: deliveries wait in the socket and the broker (TCP flow
    // control) until the delivery loop has room again.
    if (!dispatcher_->waitForCapacity(std::chrono::milliseconds(10))) continue;
    consumeOne();
  }
  markDispatchStopped();
  processCompletions();
  connection_.close();
  SLUICE_LOG_INFO("rabbitmq trigger {}: closed ({} acked, {} nacked)", options_.triggerName, acked_.load(),
                  nacked_.load());
}

Event RabbitMqSource::eventOf(const amqp_envelope_t& envelope) const {
  Event event;
  event.source = options_.httpInvocations ? "http" : "rabbitmq";
  event.type = options_.httpInvocations ? "http.request" : "rabbitmq.message";
  event.subject = options_.httpInvocations ? options_.triggerName : options_.queue;
  const amqp_basic_properties_t& props = envelope.message.properties;
  if ((props._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) event.id = clients::bytesToString(props.message_id);
  if (event.id.empty())
    event.id = options_.queue + "/" + std::to_string(generation_) + "/" + std::to_string(envelope.delivery_tag);
  if ((props._flags & AMQP_BASIC_HEADERS_FLAG) != 0) event.headers = amqpTableToHeaders(props.headers);
  if ((props._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
    event.time = std::chrono::system_clock::time_point(std::chrono::seconds(props.timestamp));
  } else {
    event.time = clock_.wallNow();
  }
  std::string routingKey = clients::bytesToString(envelope.routing_key);
  if (!routingKey.empty() && !options_.httpInvocations) event.key = routingKey;
  if (envelope.redelivered) event.headers.emplace_back("x-redelivered", "true");
  event.data = clients::bytesToString(envelope.message.body);
  return event;
}

void RabbitMqSource::consumeOne() {
  amqp_connection_state_t state = connection_.state();
  amqp_maybe_release_buffers(state);
  amqp_envelope_t envelope;
  // Short: completions are acked between reads, so this bounds ack latency.
  timeval timeout{0, 10'000};
  amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &timeout, 0);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    if (reply.library_error == AMQP_STATUS_TIMEOUT) return;
    if (reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      handleUnexpectedFrame();
      return;
    }
    SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName,
                    amqp_error_string2(reply.library_error));
    connection_.close(/*graceful=*/false);
    return;
  }
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: unexpected reply while consuming; reconnecting", options_.triggerName);
    connection_.close(/*graceful=*/false);
    return;
  }
  if (!fetching_) {
    // Draining: not dispatched and not acked, so the broker requeues it when
    // the channel closes.
    amqp_destroy_envelope(&envelope);
    return;
  }
  Event event = eventOf(envelope);
  uint64_t tag = envelope.delivery_tag;
  uint64_t generation = generation_;
  amqp_destroy_envelope(&envelope);
  // No lane: a queue has no partitions, so deliveries run in parallel.
  ++outstanding_;
  dispatcher_->dispatch(std::move(event), "", options_.triggerName, [this, generation, tag](Outcome outcome) {
    {
      std::lock_guard lock(mu_);
      completions_.push_back({generation, tag, outcome});
    }
    completionCv_.notify_all();
  });
}

void RabbitMqSource::handleUnexpectedFrame() {
  amqp_frame_t frame;
  if (amqp_simple_wait_frame(connection_.state(), &frame) != AMQP_STATUS_OK) {
    connection_.close(/*graceful=*/false);
    return;
  }
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_CANCEL_OK_METHOD: return;
    case AMQP_BASIC_CANCEL_METHOD:
      SLUICE_LOG_WARN("rabbitmq trigger {}: the broker cancelled the consumer (queue deleted?)", options_.triggerName);
      connection_.close();
      return;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      SLUICE_LOG_WARN("rabbitmq trigger {}: the broker closed the channel; reconnecting", options_.triggerName);
      connection_.close(/*graceful=*/false);
      return;
    default: return;
  }
}

void RabbitMqSource::processCompletions() {
  std::deque<Completion> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(completions_);
  }
  for (const Completion& c : batch) {
    --outstanding_;
    // A tag from a closed connection means nothing on the new one; the broker
    // already requeued that delivery.
    if (c.connectionGeneration != generation_ || !connection_.isOpen()) continue;
    int rc = AMQP_STATUS_OK;
    switch (c.outcome) {
      case Outcome::kAcked:
        rc = amqp_basic_ack(connection_.state(), clients::AmqpConnection::kChannel, c.deliveryTag, 0);
        ++acked_;
        break;
      case Outcome::kRequeue:
        rc = amqp_basic_nack(connection_.state(), clients::AmqpConnection::kChannel, c.deliveryTag, 0, /*requeue=*/1);
        ++nacked_;
        break;
      case Outcome::kRejected:
        rc = amqp_basic_nack(connection_.state(), clients::AmqpConnection::kChannel, c.deliveryTag, 0, /*requeue=*/0);
        ++nacked_;
        break;
    }
    if (rc != AMQP_STATUS_OK) {
      SLUICE_LOG_WARN("rabbitmq trigger {}: ack/nack failed: {}; reconnecting", options_.triggerName,
                      amqp_error_string2(rc));
      connection_.close(/*graceful=*/false);
      continue;  // the rest are skipped above but still counted down
    }
  }
}

}  // namespace sluice::runtime
