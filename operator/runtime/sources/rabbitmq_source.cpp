#include "runtime/sources/rabbitmq_source.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

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
  // The lone message still runs here: its redelivery on the probation queue is no death.
  if (lone_ && loneDelivery_) interrupted_.emplace(loneDelivery_->messageId, loneDelivery_->body);
  // Nothing to take up when there was no probation queue; its timers start now.
  pollFirst_ = connection_->probationExists();
  lastProbationPoll_ = clock_.now();
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
    if (holdForProbation()) continue;
    // basic.qos(prefetch) bounds how many messages the broker hands this
    // source. With all of it in flight nothing new can arrive, so wait for a
    // completion (to ack it at once) instead of reading.
    if (outstanding_ >= options_.prefetch) {
      waitForCompletion(std::chrono::milliseconds(50));
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

void RabbitMqSource::waitForCompletion(std::chrono::milliseconds timeout) {
  keepAlive();
  std::unique_lock lock(mu_);
  completionCv_.wait_for(lock, timeout, [&] { return !completions_.empty(); });
}

namespace {

// A header's value as a count; nullopt when absent or not a count.
std::optional<int> countHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key != name) continue;
    int count = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), count);
    if (error == std::errc() && end == value.data() + value.size() && count >= 0) return count;
  }
  return std::nullopt;
}

std::string headerOf(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

bool isSuspect(const AmqpDelivery& delivery) {
  return delivery.redelivered || countHeader(delivery.headers, "x-delivery-count").value_or(0) > 0;
}

int crashesOf(const Headers& headers) { return countHeader(headers, kCrashesHeader).value_or(0); }

int chargeAfterLoneDeath(int crashes) { return std::max(crashes, 1) + 1; }

Headers probationHeaders(const Headers& headers, const std::string& routingKey, int crashes) {
  Headers out;
  for (const auto& header : headers) {
    // The broker's count is the source queue's (the probation queue keeps its
    // own); the charge and the routing key are set below.
    if (header.first == "x-delivery-count" || header.first == kCrashesHeader || header.first == kRoutingKeyHeader) {
      continue;
    }
    out.push_back(header);
  }
  if (crashes > 0) out.emplace_back(kCrashesHeader, std::to_string(crashes));
  if (!routingKey.empty()) out.emplace_back(kRoutingKeyHeader, routingKey);
  return out;
}

RabbitMqSource::ProbationNeed RabbitMqSource::probationNeed() const {
  if (!connection_->probationExists()) return ProbationNeed::kNone;
  const auto since = clock_.now() - lastProbationPoll_;
  // Held back (the queue is not read until in-flight work finished, then the
  // probation queue is polled): first thing after a (re)connect, so a
  // restarted replica takes up what its death left there; a second after a
  // move or a message found there; and every 5 s, for suspects moved by
  // other replicas, so a steady stream does not starve them.
  if (pollFirst_ || since >= std::chrono::seconds(5) || (probationDue_ && since >= std::chrono::seconds(1))) {
    return ProbationNeed::kHold;
  }
  // Otherwise whenever the trigger is idle anyway (a round trip, every 200 ms at most unless due).
  if (outstanding_ == 0 && !lone_ && (probationDue_ || since >= std::chrono::milliseconds(200))) {
    return ProbationNeed::kPoll;
  }
  return ProbationNeed::kNone;
}

bool RabbitMqSource::holdForProbation() {
  const ProbationNeed need = lone_ ? ProbationNeed::kHold : probationNeed();
  if (need == ProbationNeed::kNone) return false;
  if (lone_ || outstanding_ > 0) {
    waitForCompletion(std::chrono::milliseconds(50));
    return true;
  }
  pollProbation();
  return true;
}

void RabbitMqSource::pollProbation() {
  lastProbationPoll_ = clock_.now();
  pollFirst_ = false;
  AmqpDelivery delivery;
  const ConsumeResult got = connection_->getProbation(delivery);
  if (got != ConsumeResult::kDelivery) {
    if (got == ConsumeResult::kNothing) probationDue_ = false;
    return;
  }
  probationDue_ = true;  // more may wait behind it
  if (!fetching_) {
    // Draining began meanwhile: left unacked it would come back redelivered,
    // which reads as a death. The same copy goes back instead.
    Status returned = connection_->publishProbation(delivery);
    if (returned.isOk()) returned = connection_->ackProbation(delivery.deliveryTag);
    if (!returned.isOk()) connection_->close(/*graceful=*/false);
    return;
  }
  const bool interrupted =
      interrupted_ && interrupted_->first == delivery.messageId && interrupted_->second == delivery.body;
  if (interrupted) interrupted_.reset();
  if (delivery.redelivered && !interrupted) {
    chargeDeath(delivery);
    return;
  }
  dispatchLone(std::move(delivery));
}

void RabbitMqSource::chargeDeath(const AmqpDelivery& delivery) {
  const int charge = chargeAfterLoneDeath(crashesOf(delivery.headers));
  SLUICE_LOG_WARN(
      "rabbitmq trigger {}: probation message {} came back unacknowledged: the process died while handling it alone; "
      "{} process exit(s) charged to it",
      options_.triggerName, delivery.messageId.empty() ? "(no message id)" : delivery.messageId, charge);
  ++deaths_;
  AmqpDelivery copy = delivery;
  copy.headers = probationHeaders(delivery.headers, headerOf(delivery.headers, kRoutingKeyHeader), charge);
  Status settled = connection_->publishProbation(copy);
  if (settled.isOk()) settled = connection_->ackProbation(delivery.deliveryTag);
  if (!settled.isOk()) {
    // Not acked: it comes back redelivered and is charged then (at least once, never lost).
    SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName, settled.message());
    connection_->close(/*graceful=*/false);
  }
}

void RabbitMqSource::moveToProbation(const AmqpDelivery& delivery) {
  Status moved = Status::ok();
  if (!connection_->probationExists()) {
    // A quorum queue's redeliveries carry x-delivery-count: its probation queue is one too.
    moved = connection_->ensureProbation(countHeader(delivery.headers, "x-delivery-count").has_value());
  }
  AmqpDelivery copy = delivery;
  copy.headers = probationHeaders(delivery.headers, delivery.routingKey, 0);
  if (moved.isOk()) moved = connection_->publishProbation(copy);
  // The original is acked only once the broker confirmed the copy: a death in
  // between leaves both (a duplicate), never neither.
  if (moved.isOk()) moved = connection_->ack(delivery.deliveryTag);
  if (!moved.isOk()) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: moving a redelivered message to the probation queue: {}; reconnecting",
                    options_.triggerName, moved.message());
    connection_->close(/*graceful=*/false);
    return;
  }
  ++moved_;
  probationDue_ = true;
}

void RabbitMqSource::dispatchLone(AmqpDelivery delivery) {
  const uint64_t tag = delivery.deliveryTag;
  const uint64_t generation = generation_;
  loneDelivery_ = delivery;
  Event event = eventOf(std::move(delivery), /*probation=*/true);
  if (event.exits > 0) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: probation message {} is delivered again, alone, after {} process exit(s)",
                    options_.triggerName, event.id, event.exits);
  }
  lone_ = true;
  ++outstanding_;
  dispatcher_->dispatch(std::move(event), "", options_.triggerName, [this, generation, tag](Outcome outcome) {
    {
      std::lock_guard lock(mu_);
      completions_.push_back({generation, tag, outcome, /*probation=*/true});
    }
    completionCv_.notify_all();
  });
}

Event RabbitMqSource::eventOf(AmqpDelivery delivery, bool probation) const {
  if (probation) {
    // The copy's routing key is the probation queue's: the original's rides in a header.
    delivery.routingKey = headerOf(delivery.headers, kRoutingKeyHeader);
    std::erase_if(delivery.headers, [](const auto& header) { return header.first == kRoutingKeyHeader; });
  }
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
    event.amqp = std::make_shared<const MessageProperties>(
        MessageProperties{hasMessageId ? event.id : std::string(), std::move(delivery.correlationId),
                          std::move(delivery.contentType), std::move(delivery.expiration), delivery.priority,
                          delivery.headers, std::move(delivery.properties), std::move(delivery.exchange)});
  }
  event.headers = std::move(delivery.headers);
  // A timestamp the clock cannot hold (a publisher may set any) reads as the arrival time.
  std::optional<std::chrono::system_clock::time_point> stamped;
  if (delivery.timestampSeconds) stamped = fromEpoch<std::chrono::seconds>(*delivery.timestampSeconds);
  event.time = stamped ? *stamped : clock_.wallNow();
  if (!delivery.routingKey.empty() && !options_.httpInvocations) event.key = std::move(delivery.routingKey);
  if (delivery.redelivered) event.headers.emplace_back("x-redelivered", "true");
  // Only a probation message has exits charged: a suspect of the queue never reaches the handler.
  event.exits = probation ? crashesOf(event.headers) : 0;
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
  if (!headerOf(delivery.headers, kGivenUpHeader).empty()) {
    // Given up on in probation, with no dead-letter output: into this queue's dead-letter exchange.
    if (Status sent = connection_->nack(delivery.deliveryTag, /*requeue=*/false); !sent.isOk()) {
      SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName, sent.message());
      connection_->close(/*graceful=*/false);
      return;
    }
    ++nacked_;
    return;
  }
  if (isSuspect(delivery)) {
    moveToProbation(delivery);
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
      completions_.push_back({generation, tag, outcome, /*probation=*/false});
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
  for (const Completion& c : batch) settle(c);
}

void RabbitMqSource::settle(const Completion& c) {
  --outstanding_;
  std::optional<AmqpDelivery> lone;
  if (c.probation) {
    lone_ = false;
    lone.swap(loneDelivery_);
  }
  // A tag from a closed connection means nothing on the new one; the broker
  // already requeued that delivery.
  if (c.connectionGeneration != generation_ || !connection_->isOpen()) return;
  Status sent;
  if (c.probation) {
    sent = settleProbation(c, lone);
    // The connection is gone (found out only now): the message comes back
    // redelivered, but the process lived on.
    if (!sent.isOk() && lone) interrupted_.emplace(lone->messageId, lone->body);
  } else if (c.outcome == Outcome::kAcked) {
    sent = connection_->ack(c.deliveryTag);
  } else {
    sent = connection_->nack(c.deliveryTag, /*requeue=*/c.outcome == Outcome::kRequeue);
  }
  (c.outcome == Outcome::kAcked ? acked_ : nacked_)++;
  if (!sent.isOk()) {
    SLUICE_LOG_WARN("rabbitmq trigger {}: {}; reconnecting", options_.triggerName, sent.message());
    connection_->close(/*graceful=*/false);  // the rest are skipped above but still counted down
  }
}

Status RabbitMqSource::giveUpProbation(const Completion& c, const std::optional<AmqpDelivery>& lone) {
  // A reject on the probation queue would drop it (no dead-letter exchange
  // there): it goes back to the source queue, marked, and is rejected there.
  if (!lone) return connection_->nackProbation(c.deliveryTag, /*requeue=*/false);
  AmqpDelivery copy = *lone;
  copy.headers.emplace_back(kGivenUpHeader, "true");
  Status sent = connection_->returnToQueue(copy);
  return sent.isOk() ? connection_->ackProbation(c.deliveryTag) : sent;
}

Status RabbitMqSource::settleProbation(const Completion& c, const std::optional<AmqpDelivery>& lone) {
  switch (c.outcome) {
    case Outcome::kAcked: return connection_->ackProbation(c.deliveryTag);
    case Outcome::kRejected: return giveUpProbation(c, lone);
    case Outcome::kRequeue: break;
  }
  // A requeue would come back redelivered, which reads as a death: the same
  // copy, charge unchanged, goes back instead (confirmed, then the ack).
  Status sent = lone ? connection_->publishProbation(*lone) : Status::ok();
  return sent.isOk() ? connection_->ackProbation(c.deliveryTag) : sent;
}

}  // namespace sluice::runtime
