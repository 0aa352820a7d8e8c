// DeliveryLoop: handler call -> sinks -> acknowledgement, for every event a
// source dispatches. This is where at-least-once is kept.
//
// - Batches: a source may dispatch several events of one lane at once
//   (dispatchBatch); a worker takes the whole batch in one hand-off, calls the
//   handler for each event in order (Handler::handleEach: one trip into the
//   interpreter per batch), writes all their outputs with one
//   Sink::writeBatch per sink, and completes the batch once: every event's
//   outputs (or dead-letter copy) are durable. Retries and dead letters stay
//   per event. For triggers in listTriggers the handler instead receives the
//   whole batch as one list (Handler::handleBatch); then retries and the
//   dead letter apply to the batch as a whole.
// - Order: events of one lane (a Kafka partition) run one after another;
//   different lanes run in parallel on `workers` threads.
// - Merging: batches dispatched to a lane while an earlier one is still
//   waiting there join it (same trigger, up to maxMergedBatch events, not for
//   listTriggers, whose batch is the handler's argument). A source that
//   fetches a trickle dispatches a batch of one or two records per round; each
//   batch costs a fixed amount (hand-offs between threads, a trip into the
//   interpreter, a produce call), so unmerged, a lane whose arrivals outpace
//   that cost queued more and more tiny batches and its latency grew without
//   bound (seconds at 2,000 records/s). Merged, a lane that falls behind
//   catches up in one call. Each dispatch still gets exactly its own events
//   and outcomes back.
// - Retries: a failed handler attempt is retried on the same lane after an
//   exponential backoff with jitter, up to maxAttempts; a failed sink write is
//   retried (without re-running the handler) on a separate retry thread.
// - Unhealthy outputs (Sink::health): intakeStatus() names the first output
//   that cannot be written, so sources stop fetching and the replica reports
//   not ready. A write that fails while its sink is unhealthy is not an
//   attempt: the batch is parked, unacknowledged, and written again once the
//   sink is healthy, so a wrong password neither uses up maxAttempts nor
//   sends records to the dead letter. A replica stopped meanwhile leaves them
//   unacknowledged, for redelivery.
// - Give up: after maxAttempts, or at once for kInvalidArgument, the original
//   payload goes to the dead-letter sink with error headers, and the source is
//   told kAcked only once that copy is durable. Without a dead-letter sink the
//   source is told kRejected. So a poison message holds its lane for at most
//   maxAttempts attempts plus backoff.
// - Exits (Event::exits, counted by the source across restarts): an event
//   whose earlier deliveries ended with the process exiting maxAttempts times
//   (a crash, or a handler that ignored its timeout and got the runtime
//   restarted) is given up on without calling the handler again: it goes to
//   the dead letter with x-sluice-error "process exited while handling this
//   record (exit N of N)"; without a dead letter it is kRejected, like an
//   event whose handler raised maxAttempts times.
// - Timeout: the handler gets a deadline in its context; an attempt that
//   returns after it counts as failed with kDeadlineExceeded. (Preempting a
//   handler that never returns is the handler host's job.)
// - In-flight limit: waitForCapacity() lets sources hold back while
//   maxInFlight events, or maxInFlightBytes of them (runtime/memory), are
//   unacknowledged.
// - Shedding (shed(), under memory pressure): batches not yet started are
//   dropped without completion, unacknowledged; a running batch stops between
//   events, completes the ones that ran (outputs written) and hands back the
//   others as kRequeue. Their sources redeliver both after the restart; what
//   was completed is committed by the drain, so every life of a leaking
//   replica makes progress.
// - Handler concurrency: at most handlerConcurrency handler calls (or
//   batches) are under way at once, across lanes (the Function's concurrency:
//   a Python handler runs that many calls at once); a worker waits for a
//   place before its call's deadline starts. Lanes keep their own order.
// Thread-safe. Sinks, handler, metrics and clock outlive the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/handler.h"
#include "runtime/delivery/backoff.h"
#include "runtime/memory/in_flight_budget.h"
#include "runtime/metrics/runtime_metrics.h"
#include "runtime/sinks/sink.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

struct DeliveryOptions {
  std::string functionName;
  int workers = 4;
  int maxInFlight = 1024;
  int64_t maxInFlightBytes = 0;  // 0: no byte limit (runtime/memory/in_flight_budget.h)
  int maxAttempts = 5;
  BackoffPolicy backoff;
  std::chrono::milliseconds handlerTimeout{30000};
  int handlerConcurrency = 1;  // handler calls at once, across lanes; 0: no limit
  // Per-trigger overrides of maxAttempts (e.g. a RabbitMQ trigger's own maxAttempts).
  std::map<std::string, int> maxAttemptsByTrigger;
  // Per-trigger overrides of backoff (a Trigger's spec.delivery.retry).
  std::map<std::string, BackoffPolicy> backoffByTrigger;
  // When set and false (a stuck interpreter), a failed handler attempt is not
  // the event's fault: it is neither retried nor given up on, but left
  // unacknowledged (never completed) so it is redelivered after the restart.
  std::function<bool()> handlerHealthy = nullptr;
  // Asked before each event starts: true when the process is over its memory
  // threshold (runtime/memory: memoryOverThreshold, which also trips the
  // watchdog, so the replica sheds load and drains).
  std::function<bool()> memoryPressure = nullptr;
  // Triggers whose batches go to the handler as one list (a trigger's batchSize > 1).
  std::set<std::string> listTriggers;
  // At most this many events in a batch made of merged dispatches (see the header comment).
  size_t maxMergedBatch = 2048;
};

// Header names carried by dead-letter records.
inline constexpr const char* kDeadLetterErrorHeader = "x-sluice-error";
inline constexpr const char* kDeadLetterAttemptsHeader = "x-sluice-attempts";
inline constexpr const char* kDeadLetterEventIdHeader = "x-sluice-event-id";
inline constexpr const char* kDeadLetterSourceHeader = "x-sluice-source";  // "<source>:<subject>[/partition[/offset]]"
inline constexpr const char* kDeadLetterTriggerHeader = "x-sluice-trigger";

// The record written to the dead-letter sink for `event`: its payload, key
// and headers unchanged, plus the error headers above.
Record deadLetterRecord(const Event& event, const std::string& trigger, const Status& error, int attempts);

class DeliveryLoop final : public EventDispatcher {
 public:
  // `sinks` maps output names to sinks; the entry "" is the default output.
  // `deadLetter` may be null.
  DeliveryLoop(DeliveryOptions options, Handler& handler, std::map<std::string, Sink*> sinks, Sink* deadLetter,
               RuntimeMetrics& metrics, Clock& clock);
  ~DeliveryLoop() override;

  DeliveryLoop(const DeliveryLoop&) = delete;
  DeliveryLoop& operator=(const DeliveryLoop&) = delete;

  // Events of `trigger` that are given up on go to `sink` instead of the
  // loop's dead-letter sink (e.g. a RabbitMQ trigger's deadLetterQueue).
  // Call before start(); `sink` outlives the loop.
  void setTriggerDeadLetter(const std::string& trigger, Sink* sink);

  void start();

  // Hard stop: workers exit after their current attempt; events not yet
  // completed are never completed (their sources redeliver them).
  void stop();

  bool waitForCapacity(std::chrono::milliseconds timeout) override;
  Status intakeStatus() override;
  void dispatch(Event event, std::string lane, std::string trigger, CompletionCallback done) override;
  void dispatchBatch(std::vector<Event> events, std::string lane, std::string trigger,
                     BatchCompletionCallback done) override;

  // Blocks until no event is in flight (true) or `deadline` passes (false).
  bool waitIdle(Clock::TimePoint deadline);

  int inFlight() const { return inFlight_.load(); }
  int64_t inFlightBytes() const { return inFlightBytes_.load(); }

  // Stops taking on work to free memory before the replica is restarted (see
  // the header comment). Sources are stopped by the drain that follows.
  // Idempotent; any thread.
  void shed();
  bool shedding() const { return shedding_.load(); }

  // One synchronous handler call for HTTP push: no retries, no sinks; the
  // caller gets the outputs or the error.
  Result<std::vector<Record>> invoke(const Event& event, const std::string& trigger);

 private:
  // One dispatch's share of a (possibly merged) batch: its next `count` events.
  struct Part {
    size_t count;
    BatchCompletionCallback done;
  };
  struct Batch {
    std::vector<Event> events;
    std::string trigger;
    std::vector<Part> parts;  // in event order; their counts add up to events.size()
  };
  struct Lane {
    std::deque<Batch> batches;
  };
  struct PendingBatch;
  struct Parked {
    std::shared_ptr<PendingBatch> pending;
    std::vector<uint32_t> failed;  // the records to write again
  };
  struct Failure {
    uint32_t index;  // into the batch's events
    Status error;
    int attempts;
  };

  void workerLoop(std::stop_token stop);
  void retryLoop(std::stop_token stop);
  void process(Batch batch, Backoff& backoff, std::stop_token stop);
  bool handleEach(PendingBatch& pending, std::vector<std::vector<Record>>& outputs, std::vector<Failure>& failures,
                  Backoff& backoff, const std::stop_token& stop);
  bool handleAsList(PendingBatch& pending, std::vector<std::vector<Record>>& outputs, std::vector<Failure>& failures,
                    Backoff& backoff, const std::stop_token& stop);
  Result<std::vector<Record>> callHandler(const Event& event, const std::string& trigger, int attempt);
  // A place among the handlerConcurrency calls under way, held while it lives.
  class HandlerSlot;
  // One handler call (a HandlerSlot held); `observe`: record its duration.
  Result<std::vector<Record>> runHandler(const Event& event, const std::string& trigger, int attempt,
                                         Clock::TimePoint started, bool observe);
  Status checkOutputs(const std::vector<Record>& records) const;
  // After a failed attempt: retry (after the backoff), give up (dead letter), or
  // abandon: leave the batch unacknowledged (unhealthy handler host, hard stop).
  enum class Verdict { kRetry, kGiveUp, kAbandon };
  Verdict afterFailure(const std::string& what, const std::string& trigger, const Status& error, int attempt,
                       Backoff& backoff, const std::stop_token& stop);
  void startWrites(const std::shared_ptr<PendingBatch>& pending, const std::vector<uint32_t>& indexes);
  void onWritesDone(const std::shared_ptr<PendingBatch>& pending);
  void giveUp(const std::shared_ptr<PendingBatch>& pending, const Failure& failure);
  void release(const std::shared_ptr<PendingBatch>& pending);
  // Stops counting an abandoned batch as in flight (it is never completed).
  void forget(const Batch& batch);
  // Hands each part of `batch` its own events and outcomes.
  static void complete(Batch& batch, const std::vector<Outcome>& outcomes);
  int maxAttemptsFor(const std::string& trigger) const;
  // The error for an event whose deliveries ended with the process exiting
  // maxAttempts times; OK while it may still be handled.
  Status exitsExhausted(const Event& event, const std::string& trigger) const;
  // The wait before retry `attempt` of `trigger`'s event: its own backoff, else the loop's.
  std::chrono::milliseconds retryDelay(const std::string& trigger, int attempt, Backoff& backoff) const;
  // OK, or the first of `indexes`' sinks that is unhealthy, named.
  Status sinkHealth(const PendingBatch& pending, const std::vector<uint32_t>& indexes) const;
  // On the retry thread: writes again the parked batches whose sinks recovered.
  void resumeParked();

  DeliveryOptions options_;
  Handler& handler_;
  std::map<std::string, Sink*> sinks_;
  bool originIds_ = false;  // some output reads Record::originId
  Sink* deadLetter_;
  std::map<std::string, Sink*> triggerDeadLetters_;  // set before start(), then read-only
  RuntimeMetrics& metrics_;
  Clock& clock_;

  std::mutex handlerMu_;
  std::condition_variable handlerCv_;
  int handlersRunning_ = 0;  // guarded by handlerMu_: HandlerSlots held

  std::mutex mu_;
  std::condition_variable workCv_;
  std::condition_variable capacityCv_;
  std::unordered_map<std::string, Lane> lanes_;  // guarded by mu_: lanes with queued or running batches
  std::deque<std::string> ready_;                // guarded by mu_: lanes with events and no worker
  uint64_t unorderedSequence_ = 0;               // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  std::atomic<int> inFlight_{0};
  std::atomic<int64_t> inFlightBytes_{0};
  std::atomic<bool> shedding_{false};
  const ShedCheck shedCheck_{&shedding_, options_.memoryPressure};

  std::mutex retryMu_;
  std::condition_variable_any retryCv_;
  std::deque<std::shared_ptr<PendingBatch>> retries_;  // guarded by retryMu_
  std::vector<Parked> parked_;                         // owned by the retry thread: waiting for their sinks to recover

  std::vector<std::jthread> workers_;
  std::jthread retryThread_;
};

}  // namespace sluice::runtime
