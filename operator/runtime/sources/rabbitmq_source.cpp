#include "runtime/sources/rabbitmq_source.h"

#include <charconv>

#include <optional>

#include "common/logging.h"
#include "common/time.h"
#include "runtime/sources/rabbitmq_consumer.h"

namespace sluice::runtime {

RabbitMqSource::RabbitMqSource(RabbitMqSourceOptions options, Clock& clock, std::unique_ptr<AmqpConsumer> consumer)
    : options_(std::move(options)), clock_(clock), connection_(std::move(consumer)) {
  if (!connection_) {
    connection_ = std::make_unique<RabbitMqConsumer>(RabbitMqConsumerOptions{
        options_.triggerName, options_.url, options_.tls, options_.queue, options_.prefetch, options_.heartbeatSeconds,
        /*declareQueue=*/options_.httpInvocations, options_.exchange, options_.routingKeys, options_.boundKeys});
  }
}

RabbitMqSource::~RabbitMqSource() {
  if (thread_.joinable()) {
    finishing_ = true;
    thread_.join();
  }
}

Status RabbitMqSource::connect() {
  if (Status status = connection_->open(); !status.isOk()) return status;
  lastHeartbeat_ = clock_.now();
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
    if (!connection_->isOpen()) {
      if (!fetching_) break;  // nothing to ack on a new connection: the broker requeued everything
      if (Status status = connect(); !status.isOk()) {
        SLUICE_LOG_WARN("{}; retrying in {} ms", status.toString(), options_.reconnectDelay.count());
        clock_.sleepFor(options_.reconnectDelay, std::stop_token{});
        continue;
      }
    }
    processCompletions();
    // A failed ack closed the connection: open a new one before reading (its state is gone).
    if (!connection_->isOpen()) continue;
    if (!fetching_) {
      markDispatchStopped();
      if (!cancelled) {
        // Stop deliveries; unacked ones already here still get their acks.
        connection_->cancel();
        cancelled = true;
      }
      keepAlive();
      // Until the next completion to ack (or a moment: finishing_ is polled).
      std::unique_lock lock(mu_);
      completionCv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return !completions_.empty(); });
      continue;
    }
    // basic.qos(prefetch) bounds how many messages the broker hands this
    // source. With all of it in flight nothing new can arrive, so wait for a
    // completion (to ack it at once) instead of reading.
    if (outstanding_ >= options_.prefetch) {
      keepAlive();
      std::unique_lock lock(mu_);
      completionCv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !completions_.empty(); });
      continue;
    }
    // RabbitMQ ignores a prefetch size in bytes, so the byte budget is kept by
    // not reading: deliveries wait in the socket and the broker (TCP flow
    // control) until the delivery loop has room again.
    if (!dispatcher_->waitForCapacity(std::chrono::milliseconds(10))) {
      keepAlive();
      continue;
    }
    consumeOne();
  }
  markDispatchStopped();
  processCompletions();
  connection_->close(/*graceful=*/true);
  SLUICE_LOG_INFO("rabbitmq trigger {}: closed ({} acked, {} nacked)", options_.triggerName, acked_.load(),
                  nacked_.load());
}

int returnsOf(const Headers& headers) {
  // A quorum queue counts the deliveries of a message that ended without an
  // acknowledgement (the consumer's process exited, its channel closed, or it
  // was nacked with requeue). A classic queue has no such count, only the
  // redelivered flag, which cannot tell one return from twenty.
  for (const auto& [name, value] : headers) {
    if (name != "x-delivery-count") continue;
    int count = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), count);
    if (error == std::errc() && end == value.data() + value.size() && count >= 0) return count;
  }
  return 0;
}

Event RabbitMqSource::eventOf(AmqpDelivery delivery) const {
  Event event;
  event.source = options_.httpInvocations ? "http" : "rabbitmq";
  event.type = options_.httpInvocations ? "http.request" : "rabbitmq.message";
  event.subject = options_.httpInvocations ? options_.triggerName : options_.queue;
  const bool hasMessageId = !delivery.messageId.empty();
  event.id = std::move(delivery.messageId);
  if (event.id.empty()) {
    event.id = options_.queue + "/" + std::to_string(generation_) + "/" + std::to_string(delivery.deliveryTag);
  }
  if (!options_.httpInvocations) {
    // An invocation's properties are the gateway's envelope, not the caller's message: not carried on.
    event.amqp = std::make_shared<const MessageProperties>(MessageProperties{
        hasMessageId ? event.id : std::string(), std::move(delivery.correlationId), std::move(delivery.contentType),
        std::move(delivery.expiration), delivery.priority, delivery.headers});
  }
  event.headers = std::move(delivery.headers);
  // A timestamp the clock cannot hold (a publisher may set any) reads as the arrival time.
  std::optional<std::chrono::system_clock::time_point> stamped;
  if (delivery.timestampSeconds) stamped = fromEpoch<std::chrono::seconds>(*delivery.timestampSeconds);
  event.time = stamped ? *stamped : clock_.wallNow();
  if (!delivery.routingKey.empty() && !options_.httpInvocations) event.key = std::move(delivery.routingKey);
  if (delivery.redelivered) event.headers.emplace_back("x-redelivered", "true");
  event.exits = returnsOf(event.headers);
  event.data = std::move(delivery.body);
  return event;
}

void RabbitMqSource::consumeOne() {
  AmqpDelivery delivery;
  // Short: completions are acked between reads, so this bounds ack latency.
  if (connection_->consume(std::chrono::milliseconds(10), delivery) != ConsumeResult::kDelivery) return;
  if (!fetching_) {
    // Draining: not dispatched and not acked, so the broker requeues it when
    // the channel closes.
    return;
  }
  const uint64_t tag = delivery.deliveryTag;
  const uint64_t generation = generation_;
  Event event = eventOf(std::move(delivery));
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

void RabbitMqSource::keepAlive() {
  if (!connection_->isOpen()) return;
  const Clock::TimePoint now = clock_.now();
  if (now - lastHeartbeat_ < std::chrono::seconds(options_.heartbeatSeconds) / 3) return;
  lastHeartbeat_ = now;
  if (Status sent = connection_->sendHeartbeat(); !sent.isOk()) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName, sent.message());
    connection_->close(/*graceful=*/false);
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
    if (c.connectionGeneration != generation_ || !connection_->isOpen()) continue;
    Status sent;
    switch (c.outcome) {
      case Outcome::kAcked:
        sent = connection_->ack(c.deliveryTag);
        ++acked_;
        break;
      case Outcome::kRequeue:
        sent = connection_->nack(c.deliveryTag, /*requeue=*/true);
        ++nacked_;
        break;
      case Outcome::kRejected:
        sent = connection_->nack(c.deliveryTag, /*requeue=*/false);
        ++nacked_;
        break;
    }
    if (!sent.isOk()) {
      SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName, sent.message());
      connection_->close(/*graceful=*/false);
      continue;  // the rest are skipped above but still counted down
    }
  }
}

}  // namespace sluice::runtime
