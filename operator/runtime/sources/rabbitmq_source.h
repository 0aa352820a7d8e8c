// RabbitMqSource: consumes one queue with manual acknowledgements.
//
// basic.qos(prefetch) bounds unacknowledged deliveries; each delivery is
// acked only after its outputs are durable (kAcked), nacked with requeue when
// it must be delivered again (kRequeue), and nacked without requeue when its
// attempts are exhausted and no dead-letter output took it (kRejected), so the
// queue's own dead-letter exchange receives it. A lost connection is
// reopened; deliveries not yet acked are redelivered by the broker.
// Poison messages (issue 16): a message whose handler kills the process
// (a crash, or a call that outlives its timeout so the runtime exits) is
// dead-lettered after exactly maxAttempts process exits, on classic and quorum
// queues alike, and a message that never kills the process alone is never
// charged an exit. Neither `redelivered` nor a quorum queue's
// x-delivery-count can say that: both also mark every message that merely
// sat unacknowledged (prefetched, or in flight beside the culprit) when the
// process died, and a classic queue has no count at all. So:
// - A delivery is a suspect when it is redelivered or its x-delivery-count is
//   above 0. A suspect is not handled: a copy goes to the probation queue
//   "<queue>.sluice-probation" (durable, declared on first need, a quorum
//   queue when the suspect carries x-delivery-count, i.e. the source is one),
//   published with a confirm, and only then is the original acked.
// - The probation queue is read by basic.get, one message at a time, only
//   when none of this trigger's deliveries is in flight; while it runs the
//   source dispatches nothing else. So a probation message that comes back
//   redelivered was being handled alone when the process died: that death
//   is its own. A copy is published again with x-sluice-crashes raised (then
//   the original acked); the first death, the one that made it a suspect, is
//   charged too from then on (it was among the messages in flight), so the
//   charge after its first lone death is 2, and a message that kills the
//   process whenever handled causes exactly maxAttempts exits (at least 2: a
//   message is never charged before it died alone once).
// - A probation message is dispatched with Event::exits = its charge: the
//   delivery loop dead-letters it unhandled, with x-sluice-error naming the
//   cause, once the charge reaches maxAttempts; an innocent suspect is simply
//   handled, alone, and acked.
// The probation queue is polled first after every (re)connect, whenever the
// trigger is idle (every 200 ms at most, at once after a move), and, holding
// back the queue until in-flight work completes, a second after a move and at
// least every 5 s.
// Limits: "alone" is among this trigger's deliveries: another trigger of the
// same Function keeps running, and its poison would be charged to a probation
// message handled at that moment. A probation message redelivered because
// the connection (not the process) dropped is recognised by this replica, not
// by another one that happens to get it first. A probation copy keeps the
// message's properties and typed headers table (amqp_headers.h), so a mirror
// publishes it as first published.
// The connection (an AmqpConsumer: rabbitmq-c, or a test's fake) is owned by
// the source's thread: completions from other threads are queued to it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "clients/amqp_connection.h"
#include "common/clock.h"
#include "runtime/sources/amqp_consumer.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

// Whether a delivery must go through the probation queue: redelivered, or a
// quorum queue's x-delivery-count above 0.
bool isSuspect(const AmqpDelivery& delivery);
// The process exits charged to a probation message (its x-sluice-crashes
// header), 0 when absent or not a count.
int crashesOf(const Headers& headers);
// The charge after a probation message killed the process alone: the death
// that made it a suspect counts from its first lone death on.
int chargeAfterLoneDeath(int crashes);
// The headers of a message's copy on the probation queue: the broker's
// x-delivery-count dropped, `crashes` in x-sluice-crashes (none when 0), and
// the routing key it was published with (the copy's is the probation queue's)
// in x-sluice-routing-key.
Headers probationHeaders(const Headers& headers, const std::string& routingKey, int crashes);
inline constexpr const char* kCrashesHeader = "x-sluice-crashes";
inline constexpr const char* kRoutingKeyHeader = "x-sluice-routing-key";
// On a probation message given up on with no dead-letter output: returned to
// the source queue with it, it is rejected there unhandled, into that queue's
// own dead-letter exchange, as any other message given up on is.
inline constexpr const char* kGivenUpHeader = "x-sluice-given-up";

struct RabbitMqSourceOptions {
  std::string triggerName;
  std::string url;       // amqp://user:password@host:port/vhost, or amqps://
  clients::AmqpTls tls;  // amqps:// URLs only
  std::string queue;
  // Non-empty: declare the queue (durable, when missing) and bind it to this
  // exchange with each routing key before consuming, on every (re)connect.
  std::string exchange;
  std::vector<std::string> routingKeys;
  // Lists the keys the queue is bound to `exchange` with, so bindings whose
  // key left routingKeys are removed (RabbitMqConsumerOptions::boundKeys).
  std::function<Result<std::vector<std::string>>()> boundKeys;
  int prefetch = 10;
  std::chrono::milliseconds reconnectDelay{1000};
  // The queue holds the gateway's asynchronous HTTP invocations: each message
  // becomes the same "http.request" Event an /invoke call makes (its headers
  // carry method, path, query; its message id is the request id), so the
  // handler sees one event shape whether it was called synchronously or not.
  bool httpInvocations = false;
  int heartbeatSeconds = 30;  // asked of the broker; kept up while the source holds back from reading
};

class RabbitMqSource final : public Source {
 public:
  // `consumer`: none makes the real one (RabbitMqConsumer) from the options.
  RabbitMqSource(RabbitMqSourceOptions options, Clock& clock, std::unique_ptr<AmqpConsumer> consumer = nullptr);
  ~RabbitMqSource() override;

  const std::string& name() const override { return options_.triggerName; }
  // Connects once synchronously so a wrong URL, password or queue fails here.
  Status start(EventDispatcher& dispatcher) override;
  void stopFetching() override;
  Status finish(Clock::TimePoint deadline) override;

  int64_t acked() const { return acked_.load(); }
  int64_t nacked() const { return nacked_.load(); }
  int64_t movedToProbation() const { return moved_.load(); }
  int64_t lonelyDeaths() const { return deaths_.load(); }  // probation messages charged a death here

 private:
  struct Completion {
    uint64_t connectionGeneration;
    uint64_t deliveryTag;
    Outcome outcome;
    bool probation;  // a probation message's (settled on the probation queue)
  };

  Status connect();
  void run();
  void processCompletions();
  void consumeOne();
  // Until one completion is queued (or a moment), keeping the connection alive.
  void waitForCompletion(std::chrono::milliseconds timeout);
  // True when the source must not read its queue now: a probation message
  // runs, or the probation queue is due and in-flight work must finish first
  // (then it is polled).
  bool holdForProbation();
  enum class ProbationNeed { kNone, kPoll, kHold };  // kPoll: only as the trigger is idle anyway
  ProbationNeed probationNeed() const;
  void pollProbation();
  // A suspect: its copy to the probation queue (confirmed), then the ack.
  void moveToProbation(const AmqpDelivery& delivery);
  // A probation message that came back redelivered: republished with its new charge, then acked.
  void chargeDeath(const AmqpDelivery& delivery);
  void dispatchLone(AmqpDelivery delivery);
  // `lone`: the message as got (republished unchanged when it must be delivered again).
  Status settleProbation(const Completion& completion, const std::optional<AmqpDelivery>& lone);
  // Rejected in probation (no dead-letter output): marked, back to the source queue (confirmed), then acked.
  Status giveUpProbation(const Completion& completion, const std::optional<AmqpDelivery>& lone);
  void settle(const Completion& completion);
  // While not reading: a heartbeat every third of the interval, so the broker keeps the connection.
  void keepAlive();
  // The Event of a delivery: id (message id, else queue/connection/tag), headers, time, key, body.
  Event eventOf(AmqpDelivery delivery, bool probation = false) const;
  void markDispatchStopped();

  RabbitMqSourceOptions options_;
  Clock& clock_;
  Clock::TimePoint lastHeartbeat_{};  // sent by keepAlive(), on the source thread
  EventDispatcher* dispatcher_ = nullptr;
  std::unique_ptr<AmqpConsumer> connection_;  // owned by the source thread after start()
  uint64_t generation_ = 0;                   // bumped on every reconnect: tags of older connections are void
  // Probation state, owned by the source thread.
  bool pollFirst_ = true;      // after a (re)connect: poll before reading the queue
  bool probationDue_ = false;  // a message was moved there, or found there: poll again soon
  Clock::TimePoint lastProbationPoll_{};
  bool lone_ = false;                         // a probation message is in flight
  std::optional<AmqpDelivery> loneDelivery_;  // its copy, republished unchanged if it must be delivered again
  // A probation message in flight when the connection dropped (the process
  // lived on): its redelivery is no death. Message id and body.
  std::optional<std::pair<std::string, std::string>> interrupted_;

  std::mutex mu_;
  std::deque<Completion> completions_;  // guarded by mu_
  bool dispatchStopped_ = false;        // guarded by mu_: the thread will dispatch nothing more
  std::condition_variable stoppedCv_;
  std::condition_variable completionCv_;  // signalled when a completion is queued
  std::atomic<int> outstanding_{0};       // dispatched, completion not yet processed

  std::atomic<bool> fetching_{true};
  std::atomic<bool> finishing_{false};
  std::atomic<int64_t> acked_{0};
  std::atomic<int64_t> nacked_{0};
  std::atomic<int64_t> moved_{0};
  std::atomic<int64_t> deaths_{0};
  std::thread thread_;
};

}  // namespace sluice::runtime
