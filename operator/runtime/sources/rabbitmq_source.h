// RabbitMqSource: consumes one queue with manual acknowledgements.
//
// basic.qos(prefetch) bounds unacknowledged deliveries; each delivery is
// acked only after its outputs are durable (kAcked), nacked with requeue when
// it must be delivered again (kRequeue), and nacked without requeue when its
// attempts are exhausted and no dead-letter output took it (kRejected), so the
// queue's own dead-letter exchange receives it. A lost connection is
// reopened; deliveries not yet acked are redelivered by the broker.
// Returns (issue 16): a quorum queue's x-delivery-count becomes Event::exits,
// so a message that keeps ending its deliveries unacknowledged (its handler
// kills the process, or outlives its timeout and the runtime restarts) is
// dead-lettered by the delivery loop once the count reaches maxAttempts.
// Every unacknowledged return counts, also of messages merely prefetched
// when the process died: keep prefetch low where crashes are expected. A
// classic queue gives no count, only `redelivered` (x-redelivered): there
// such a message is redelivered until the queue's own limits apply.
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
#include <string>
#include <thread>
#include <vector>

#include "clients/amqp_connection.h"
#include "common/clock.h"
#include "runtime/sources/amqp_consumer.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

// A quorum queue's count of a message's unacknowledged deliveries (its
// x-delivery-count header), 0 when absent.
int returnsOf(const Headers& headers);

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

 private:
  struct Completion {
    uint64_t connectionGeneration;
    uint64_t deliveryTag;
    Outcome outcome;
  };

  Status connect();
  void run();
  void processCompletions();
  void consumeOne();
  // While not reading: a heartbeat every third of the interval, so the broker keeps the connection.
  void keepAlive();
  // The Event of a delivery: id (message id, else queue/connection/tag), headers, time, key, body.
  Event eventOf(AmqpDelivery delivery) const;
  void markDispatchStopped();

  RabbitMqSourceOptions options_;
  Clock& clock_;
  Clock::TimePoint lastHeartbeat_{};  // sent by keepAlive(), on the source thread
  EventDispatcher* dispatcher_ = nullptr;
  std::unique_ptr<AmqpConsumer> connection_;  // owned by the source thread after start()
  uint64_t generation_ = 0;                   // bumped on every reconnect: tags of older connections are void

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
  std::thread thread_;
};

}  // namespace sluice::runtime
