#include "runtime/delivery/delivery_loop.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <utility>

#include "common/logging.h"

namespace sluice::runtime {

namespace {

// How often parked writes check whether their sinks recovered.
constexpr std::chrono::milliseconds kParkedPoll{100};

double secondsBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string sourcePosition(const Event& event) {
  std::string position = event.source + ":" + event.subject;
  if (event.partition) position += "/" + std::to_string(*event.partition);
  if (event.offset) position += "/" + std::to_string(*event.offset);
  return position;
}

}  // namespace

Record deadLetterRecord(const Event& event, const std::string& trigger, const Status& error, int attempts) {
  Record record;
  record.key = event.key;
  record.value = event.data;
  record.headers = event.headers;
  record.amqp = event.amqp;
  record.originId = event.id + "#dead-letter";
  record.headers.emplace_back(kDeadLetterErrorHeader, error.toString());
  record.headers.emplace_back(kDeadLetterAttemptsHeader, std::to_string(attempts));
  record.headers.emplace_back(kDeadLetterEventIdHeader, event.id);
  record.headers.emplace_back(kDeadLetterSourceHeader, sourcePosition(event));
  record.headers.emplace_back(kDeadLetterTriggerHeader, trigger);
  return record;
}

// A batch from the handler call until every event has its outcome. Its
// output records are written together; `open` counts what is still to finish:
// the output writes as a whole (1) plus each dead-letter write under way.
struct DeliveryLoop::PendingBatch final : WriteListener, std::enable_shared_from_this<PendingBatch> {
  DeliveryLoop* loop = nullptr;
  Batch batch;
  std::vector<Outcome> outcomes;   // one per event; each index written by one thread before `open` drops
  std::vector<char> deadLettered;  // likewise
  std::vector<Record> records;     // the outputs of all events, in event order
  std::vector<uint32_t> owner;     // records[i] came from batch.events[owner[i]]
  bool asList = false;             // one handler call for the whole batch: its outputs belong to all events
  std::atomic<size_t> open{1};
  std::atomic<size_t> writesLeft{0};
  std::mutex mu;
  std::vector<uint32_t> failed;  // guarded by mu: records whose last write failed
  Status lastError;              // guarded by mu
  int writeAttempt = 1;          // touched only by the thread that starts writes

  void written(uint32_t index, const Status& status) override {
    if (!status.isOk()) {
      std::lock_guard lock(mu);
      failed.push_back(index);
      lastError = status.withContext("writing output to sink \"" + records[index].sink + "\"");
    }
    if (writesLeft.fetch_sub(1, std::memory_order_acq_rel) == 1) loop->onWritesDone(shared_from_this());
  }
};

DeliveryLoop::DeliveryLoop(DeliveryOptions options, Handler& handler, std::map<std::string, Sink*> sinks,
                           Sink* deadLetter, RuntimeMetrics& metrics, Clock& clock)
    : options_(std::move(options)),
      handler_(handler),
      sinks_(std::move(sinks)),
      deadLetter_(deadLetter),
      metrics_(metrics),
      clock_(clock) {
  if (options_.workers < 1) options_.workers = 1;
  if (options_.maxInFlight < 1) options_.maxInFlight = 1;
  if (options_.maxAttempts < 1) options_.maxAttempts = 1;
  for (auto& [trigger, attempts] : options_.maxAttemptsByTrigger) attempts = std::max(1, attempts);
  originIds_ =
      std::any_of(sinks_.begin(), sinks_.end(), [](const auto& entry) { return entry.second->usesOriginIds(); });
}

void DeliveryLoop::setTriggerDeadLetter(const std::string& trigger, Sink* sink) { triggerDeadLetters_[trigger] = sink; }

int DeliveryLoop::maxAttemptsFor(const std::string& trigger) const {
  auto it = options_.maxAttemptsByTrigger.find(trigger);
  return it == options_.maxAttemptsByTrigger.end() ? options_.maxAttempts : it->second;
}

Status DeliveryLoop::exitsExhausted(const Event& event, const std::string& trigger) const {
  const int maxAttempts = maxAttemptsFor(trigger);
  if (event.exits < maxAttempts) return Status::ok();
  const std::string count = std::to_string(event.exits) + " of " + std::to_string(maxAttempts);
  if (event.source == "rabbitmq" || event.source == "http") {
    // Charged by the RabbitMQ source's probation queue (rabbitmq_source.h):
    // every exit after the first happened with the message handled alone.
    return Status(StatusCode::kInternal, "process exited while handling this message (exit " + count +
                                             ", each after the first with it handled alone): it crashed, or "
                                             "outlived its timeout and the runtime restarted");
  }
  return Status(StatusCode::kInternal, "process exited while handling this record (exit " + count +
                                           "): it crashed, or outlived its timeout and the runtime restarted");
}

DeliveryLoop::~DeliveryLoop() { stop(); }

void DeliveryLoop::start() {
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this](std::stop_token stop) { workerLoop(stop); });
  }
  retryThread_ = std::jthread([this](std::stop_token stop) { retryLoop(stop); });
}

void DeliveryLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  for (auto& worker : workers_) worker.request_stop();
  workCv_.notify_all();
  capacityCv_.notify_all();
  retryThread_.request_stop();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  if (retryThread_.joinable()) retryThread_.join();
}

bool DeliveryLoop::waitForCapacity(std::chrono::milliseconds timeout) {
  // A short real-time wait: this is backpressure polling, not a timed behaviour.
  const InFlightBudget budget{options_.maxInFlight, options_.maxInFlightBytes};
  std::unique_lock lock(mu_);
  return capacityCv_.wait_for(
             lock, timeout,
             [&] { return stopping_ || shedding_ || budget.admits(inFlight_.load(), inFlightBytes_.load()); }) &&
         !stopping_ && !shedding_;
}

void DeliveryLoop::shed() {
  if (shedding_.exchange(true)) return;
  int droppedEvents = 0;
  int64_t droppedBytes = 0;
  {
    std::lock_guard lock(mu_);
    // Lanes in ready_ have no worker: every batch queued there is unstarted.
    // A lane held by a worker keeps only its running batch.
    for (auto& [lane, state] : lanes_) {
      for (Batch& batch : state.batches) {
        droppedEvents += static_cast<int>(batch.events.size());
        for (const Event& event : batch.events) droppedBytes += eventBytes(event);
      }
      state.batches.clear();
    }
    for (const std::string& lane : ready_) lanes_.erase(lane);
    ready_.clear();
  }
  metrics_.setInFlight(inFlight_ -= droppedEvents);
  inFlightBytes_ -= droppedBytes;
  SLUICE_LOG_WARN("shedding: {} queued event(s) ({} bytes) dropped unacknowledged, to be redelivered", droppedEvents,
                  droppedBytes);
  capacityCv_.notify_all();
}

Status DeliveryLoop::intakeStatus() {
  for (const auto& [name, sink] : sinks_) {
    // The default output "" is usually also listed under its own name: report that one.
    if (name.empty() && std::any_of(sinks_.begin(), sinks_.end(), [&, sink = sink](const auto& entry) {
          return !entry.first.empty() && entry.second == sink;
        })) {
      continue;
    }
    Status health = sink->health();
    if (!health.isOk()) return health.withContext(name.empty() ? "default output" : "output \"" + name + "\"");
  }
  return Status::ok();
}

Status DeliveryLoop::sinkHealth(const PendingBatch& pending, const std::vector<uint32_t>& indexes) const {
  std::set<std::string> names;
  for (uint32_t index : indexes) names.insert(pending.records[index].sink);
  for (const std::string& name : names) {
    Status health = sinks_.at(name)->health();
    if (!health.isOk()) return health.withContext(name.empty() ? "default output" : "output \"" + name + "\"");
  }
  return Status::ok();
}

void DeliveryLoop::dispatch(Event event, std::string lane, std::string trigger, CompletionCallback done) {
  std::vector<Event> events;
  events.push_back(std::move(event));
  dispatchBatch(std::move(events), std::move(lane), std::move(trigger),
                [done = std::move(done)](const std::vector<Event>&, const std::vector<Outcome>& outcomes) {
                  if (done) done(outcomes.front());
                });
}

void DeliveryLoop::dispatchBatch(std::vector<Event> events, std::string lane, std::string trigger,
                                 BatchCompletionCallback done) {
  if (events.empty()) {
    if (done) done({}, {});
    return;
  }
  int count = static_cast<int>(events.size());
  int64_t bytes = 0;
  for (const Event& event : events) bytes += eventBytes(event);
  metrics_.received(trigger, count);
  {
    std::lock_guard lock(mu_);
    if (shedding_) return;  // never completed: the source redelivers it after the restart
    metrics_.setInFlight(inFlight_ += count);
    inFlightBytes_ += bytes;
    if (lane.empty()) lane = "\x01unordered/" + std::to_string(unorderedSequence_++);
    auto [it, inserted] = lanes_.try_emplace(lane);
    auto& queue = it->second.batches;
    // The queue holds only batches no worker has taken yet (a worker pops the
    // one it runs), so the last one can still grow.
    if (!queue.empty() && queue.back().trigger == trigger && !options_.listTriggers.contains(trigger) &&
        queue.back().events.size() + events.size() <= options_.maxMergedBatch) {
      Batch& waiting = queue.back();
      waiting.parts.push_back(Part{events.size(), std::move(done)});
      waiting.events.insert(waiting.events.end(), std::make_move_iterator(events.begin()),
                            std::make_move_iterator(events.end()));
    } else {
      std::vector<Part> parts;
      parts.push_back(Part{events.size(), std::move(done)});
      queue.push_back(Batch{std::move(events), std::move(trigger), std::move(parts)});
    }
    // A lane that already existed is either queued in ready_ or held by a worker,
    // which re-queues it when it finishes the current batch.
    if (inserted) ready_.push_back(lane);
  }
  workCv_.notify_one();
}

bool DeliveryLoop::waitIdle(Clock::TimePoint deadline) {
  std::unique_lock lock(mu_);
  while (inFlight_.load() > 0) {
    if (clock_.now() >= deadline) return false;
    capacityCv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return true;
}

void DeliveryLoop::workerLoop(std::stop_token stop) {
  Backoff backoff(options_.backoff);
  while (true) {
    std::string lane;
    Batch batch;
    {
      std::unique_lock lock(mu_);
      workCv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      lane = std::move(ready_.front());
      ready_.pop_front();
      auto& queue = lanes_[lane].batches;
      batch = std::move(queue.front());
      queue.pop_front();
    }
    process(std::move(batch), backoff, stop);
    {
      std::lock_guard lock(mu_);
      auto it = lanes_.find(lane);
      if (it->second.batches.empty()) {
        lanes_.erase(it);
      } else {
        ready_.push_back(lane);
        workCv_.notify_one();
      }
    }
  }
}

class DeliveryLoop::HandlerSlot {
 public:
  explicit HandlerSlot(DeliveryLoop& loop) : loop_(loop) {
    const int limit = loop_.options_.handlerConcurrency;
    if (limit <= 0) return;
    std::unique_lock lock(loop_.handlerMu_);
    loop_.handlerCv_.wait(lock, [&] { return loop_.handlersRunning_ < limit; });
    ++loop_.handlersRunning_;
  }
  ~HandlerSlot() {
    if (loop_.options_.handlerConcurrency <= 0) return;
    {
      std::lock_guard lock(loop_.handlerMu_);
      --loop_.handlersRunning_;
    }
    loop_.handlerCv_.notify_one();
  }
  HandlerSlot(const HandlerSlot&) = delete;
  HandlerSlot& operator=(const HandlerSlot&) = delete;

 private:
  DeliveryLoop& loop_;
};

Result<std::vector<Record>> DeliveryLoop::callHandler(const Event& event, const std::string& trigger, int attempt) {
  HandlerSlot slot(*this);
  return runHandler(event, trigger, attempt, clock_.now(), /*observe=*/true);
}

Result<std::vector<Record>> DeliveryLoop::runHandler(const Event& event, const std::string& trigger, int attempt,
                                                     Clock::TimePoint started, bool observe) {
  InvocationContext context;
  context.requestId = event.id;
  context.functionName = options_.functionName;
  context.triggerName = trigger;
  context.attempt = attempt;
  context.deadline = started + options_.handlerTimeout;
  context.clock = &clock_;

  Result<std::vector<Record>> result = internalError("handler not called");
  try {
    result = handler_.handle(event, context);
  } catch (const std::exception& e) {
    result = internalError(std::string("handler threw: ") + e.what());
  } catch (...) {
    result = internalError("handler threw a non-standard exception");
  }
  Clock::TimePoint finished = clock_.now();
  if (observe) metrics_.handlerSeconds(trigger, secondsBetween(started, finished));
  if (result.isOk() && finished > context.deadline) {
    return Status(
        StatusCode::kDeadlineExceeded,
        "handler took " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count()) +
            " ms, over the timeout of " + std::to_string(options_.handlerTimeout.count()) + " ms");
  }
  return result;
}

Status DeliveryLoop::checkOutputs(const std::vector<Record>& records) const {
  for (const Record& record : records) {
    if (!sinks_.contains(record.sink)) {
      return invalidArgument(record.sink.empty()
                                 ? "the handler returned records but no default output is configured"
                                 : "output record names sink \"" + record.sink + "\", which is not configured");
    }
  }
  return Status::ok();
}

std::chrono::milliseconds DeliveryLoop::retryDelay(const std::string& trigger, int attempt, Backoff& backoff) const {
  auto own = options_.backoffByTrigger.find(trigger);
  return own == options_.backoffByTrigger.end() ? backoff.delay(attempt) : backoff.delay(attempt, own->second);
}

DeliveryLoop::Verdict DeliveryLoop::afterFailure(const std::string& what, const std::string& trigger,
                                                 const Status& error, int attempt, Backoff& backoff,
                                                 const std::stop_token& stop) {
  const int maxAttempts = maxAttemptsFor(trigger);
  metrics_.failed(trigger);
  SLUICE_LOG_WARN("{} (trigger {}) attempt {}/{} failed: {}", what, trigger, attempt, maxAttempts, error.toString());
  if (options_.handlerHealthy && !options_.handlerHealthy()) {
    SLUICE_LOG_ERROR("{} (trigger {}) left unacknowledged for redelivery: the handler host is unhealthy", what,
                     trigger);
    return Verdict::kAbandon;
  }
  if (shedding_) {
    SLUICE_LOG_WARN("{} (trigger {}) left unacknowledged for redelivery: the replica is shedding load", what, trigger);
    return Verdict::kAbandon;
  }
  if (error.code() == StatusCode::kInvalidArgument || attempt >= maxAttempts) return Verdict::kGiveUp;
  metrics_.retried(trigger);
  if (!clock_.sleepFor(retryDelay(trigger, attempt, backoff), stop))
    return Verdict::kAbandon;  // hard stop: left for redelivery
  return Verdict::kRetry;
}

bool DeliveryLoop::handleEach(PendingBatch& pending, std::vector<std::vector<Record>>& outputs,
                              std::vector<Failure>& failures, Backoff& backoff, const std::stop_token& stop) {
  const std::vector<Event>& events = pending.batch.events;
  const std::string& trigger = pending.batch.trigger;
  std::vector<EachResult> first;
  std::vector<Status> exhausted(events.size());
  bool anyExhausted = false;
  for (size_t i = 0; i < events.size(); ++i) {
    exhausted[i] = exitsExhausted(events[i], trigger);
    anyExhausted = anyExhausted || !exhausted[i].isOk();
  }
  {
    HandlerSlot slot(*this);
    // An event that keeps killing the process is not handed to the handler
    // again; the rest of its batch is handled one by one around it.
    if (handler_.handlesEach() && !anyExhausted) {
      InvocationContext context;
      context.functionName = options_.functionName;
      context.triggerName = trigger;
      context.shedding = &shedCheck_;
      context.clock = &clock_;
      try {
        first = handler_.handleEach(events, context, options_.handlerTimeout);
      } catch (const std::exception& e) {
        first.assign(events.size(), EachResult{internalError(std::string("handler threw: ") + e.what()), 0});
      }
    } else {
      first.resize(events.size());
      for (size_t i = 0; i < events.size(); ++i) {
        if (shedCheck_()) {
          first[i].outputs = shedStatus();
          continue;
        }
        if (!exhausted[i].isOk()) {
          first[i].outputs = exhausted[i];
          continue;
        }
        Clock::TimePoint started = clock_.now();
        first[i].outputs = runHandler(events[i], trigger, 1, started, /*observe=*/false);
        first[i].seconds = secondsBetween(started, clock_.now());
      }
    }
  }
  std::vector<double> seconds(first.size());
  for (size_t i = 0; i < first.size(); ++i) seconds[i] = first[i].seconds;
  metrics_.handlerSecondsEach(trigger, seconds);
  std::vector<double> outputCounts;
  outputCounts.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    Result<std::vector<Record>>& result = first[i].outputs;
    Status error = result.isOk() ? checkOutputs(result.value()) : result.status();
    if (!error.isOk() && isShed(error)) {
      // Not run (shedding): the rest of the batch completes, this one is delivered again after the restart.
      pending.outcomes[i] = Outcome::kRequeue;
      continue;
    }
    if (!exhausted[i].isOk()) {
      SLUICE_LOG_ERROR("event {} (trigger {}): {}", events[i].id, trigger, exhausted[i].message());
      failures.push_back(Failure{static_cast<uint32_t>(i), exhausted[i], events[i].exits});
      continue;
    }
    for (int attempt = 1; !error.isOk(); ++attempt) {
      Verdict verdict = afterFailure("event " + events[i].id, trigger, error, attempt, backoff, stop);
      if (verdict == Verdict::kAbandon) return false;
      if (verdict == Verdict::kGiveUp) {
        failures.push_back(Failure{static_cast<uint32_t>(i), error, attempt});
        break;
      }
      result = callHandler(events[i], trigger, attempt + 1);
      error = result.isOk() ? checkOutputs(result.value()) : result.status();
    }
    if (error.isOk()) {
      outputCounts.push_back(static_cast<double>(result.value().size()));
      outputs[i] = std::move(result).value();
    }
  }
  metrics_.outputsPerEventEach(trigger, outputCounts);
  return true;
}

bool DeliveryLoop::handleAsList(PendingBatch& pending, std::vector<std::vector<Record>>& outputs,
                                std::vector<Failure>& failures, Backoff& backoff, const std::stop_token& stop) {
  const std::vector<Event>& events = pending.batch.events;
  const std::string& trigger = pending.batch.trigger;
  std::string what = "batch of " + std::to_string(events.size()) + " from " + events.front().id;
  for (const Event& event : events) {
    // The list is the handler's argument: an event in it that keeps killing the process gives up the whole list.
    if (Status exhausted = exitsExhausted(event, trigger); !exhausted.isOk()) {
      SLUICE_LOG_ERROR("{} (trigger {}): event {}: {}", what, trigger, event.id, exhausted.message());
      for (size_t i = 0; i < events.size(); ++i)
        failures.push_back(Failure{static_cast<uint32_t>(i), exhausted, event.exits});
      return true;
    }
  }
  for (int attempt = 1;; ++attempt) {
    InvocationContext context;
    context.requestId = events.front().id;
    context.functionName = options_.functionName;
    context.triggerName = trigger;
    context.attempt = attempt;
    Clock::TimePoint started = clock_.now();
    context.deadline = started + options_.handlerTimeout;
    context.clock = &clock_;
    Result<std::vector<Record>> result = internalError("handler not called");
    {
      HandlerSlot slot(*this);
      try {
        result = handler_.handleBatch(events, context);
      } catch (const std::exception& e) {
        result = internalError(std::string("handler threw: ") + e.what());
      }
    }
    Clock::TimePoint finished = clock_.now();
    metrics_.handlerSeconds(trigger, secondsBetween(started, finished));
    Status error = result.isOk() ? checkOutputs(result.value()) : result.status();
    if (error.isOk() && finished > context.deadline) {
      error = Status(StatusCode::kDeadlineExceeded,
                     "handler overran its timeout of " + std::to_string(options_.handlerTimeout.count()) + " ms");
    }
    if (error.isOk()) {
      metrics_.outputsPerEvent(trigger, static_cast<double>(result.value().size()));
      outputs.front() = std::move(result).value();
      return true;
    }
    Verdict verdict = afterFailure(what, trigger, error, attempt, backoff, stop);
    if (verdict == Verdict::kAbandon) return false;
    if (verdict == Verdict::kGiveUp) {
      for (size_t i = 0; i < events.size(); ++i) failures.push_back(Failure{static_cast<uint32_t>(i), error, attempt});
      return true;
    }
  }
}

void DeliveryLoop::process(Batch batch, Backoff& backoff, std::stop_token stop) {
  auto pending = std::make_shared<PendingBatch>();
  pending->loop = this;
  pending->batch = std::move(batch);
  const size_t count = pending->batch.events.size();
  pending->outcomes.assign(count, Outcome::kAcked);
  pending->deadLettered.assign(count, 0);
  pending->asList = options_.listTriggers.contains(pending->batch.trigger);
  metrics_.batchSize(pending->batch.trigger, static_cast<double>(count));

  std::vector<std::vector<Record>> outputs(count);
  std::vector<Failure> failures;
  bool finished = pending->asList ? handleAsList(*pending, outputs, failures, backoff, stop)
                                  : handleEach(*pending, outputs, failures, backoff, stop);
  if (!finished) {
    // Left unacknowledged: the source redelivers the batch. Shedding, it no
    // longer counts as in flight, so the drain that follows need not wait for it.
    if (shedding_) forget(pending->batch);
    return;
  }

  size_t total = 0;
  for (const auto& each : outputs) total += each.size();
  pending->records.reserve(total);
  pending->owner.reserve(total);
  for (size_t i = 0; i < count; ++i) {
    size_t n = 0;
    for (Record& record : outputs[i]) {
      // A list handler's outputs belong to the whole batch: no one input's properties or identity are theirs.
      if (!pending->asList) {
        const Event& event = pending->batch.events[i];
        if (!record.amqp) record.amqp = event.amqp;
        if (originIds_) record.originId = event.id + "#" + std::to_string(n++);
      }
      pending->records.push_back(std::move(record));
      pending->owner.push_back(static_cast<uint32_t>(i));
    }
  }
  // Dead-letter writes start before the outputs' share of `open` can be released.
  for (const Failure& failure : failures) giveUp(pending, failure);
  if (pending->records.empty()) {
    release(pending);
    return;
  }
  std::vector<uint32_t> all(pending->records.size());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  startWrites(pending, all);
}

void DeliveryLoop::startWrites(const std::shared_ptr<PendingBatch>& pending, const std::vector<uint32_t>& indexes) {
  {
    std::lock_guard lock(pending->mu);
    pending->failed.clear();
  }
  pending->writesLeft = indexes.size();
  const std::string& firstSink = pending->records[indexes.front()].sink;
  bool oneSink =
      std::all_of(indexes.begin(), indexes.end(), [&](uint32_t i) { return pending->records[i].sink == firstSink; });
  if (oneSink) {
    sinks_.at(firstSink)->writeBatch(pending->records, indexes, pending);
    return;
  }
  std::map<std::string, std::vector<uint32_t>> bySink;
  for (uint32_t index : indexes) bySink[pending->records[index].sink].push_back(index);
  for (const auto& [name, group] : bySink) sinks_.at(name)->writeBatch(pending->records, group, pending);
}

void DeliveryLoop::onWritesDone(const std::shared_ptr<PendingBatch>& pending) {
  bool anyFailed = false;
  {
    std::lock_guard lock(pending->mu);
    anyFailed = !pending->failed.empty();
  }
  if (!anyFailed) {
    release(pending);
    return;
  }
  {
    std::lock_guard lock(retryMu_);
    retries_.push_back(pending);
  }
  retryCv_.notify_one();
}

void DeliveryLoop::retryLoop(std::stop_token stop) {
  Backoff backoff(options_.backoff);
  while (true) {
    std::shared_ptr<PendingBatch> pending;
    {
      std::unique_lock lock(retryMu_);
      auto ready = [&] { return !retries_.empty(); };
      if (parked_.empty()) {
        if (!retryCv_.wait(lock, stop, ready)) return;
      } else {
        // A short real-time wait: this polls the parked batches' sinks, it is not a timed behaviour.
        retryCv_.wait_for(lock, stop, kParkedPoll, ready);
        if (stop.stop_requested()) return;  // parked batches stay unacknowledged: redelivered
      }
      if (!retries_.empty()) {
        pending = std::move(retries_.front());
        retries_.pop_front();
      }
    }
    resumeParked();
    if (!pending) continue;
    std::vector<uint32_t> failed;
    Status error;
    {
      std::lock_guard lock(pending->mu);
      failed = pending->failed;
      error = pending->lastError;
    }
    const std::string& trigger = pending->batch.trigger;
    metrics_.failed(trigger);
    // An unusable sink (wrong password, refused topic) is not the records'
    // fault: they wait, unacknowledged, without using up their attempts.
    if (Status down = sinkHealth(*pending, failed); !down.isOk()) {
      SLUICE_LOG_WARN("event {}: {} record(s) wait for their output to recover (not counted as an attempt): {}",
                      pending->batch.events[pending->owner[failed.front()]].id, failed.size(), down.toString());
      parked_.push_back(Parked{std::move(pending), std::move(failed)});
      continue;
    }
    const int maxAttempts = maxAttemptsFor(trigger);
    SLUICE_LOG_WARN("event {}: write attempt {}/{} of {} record(s) failed: {}",
                    pending->batch.events[pending->owner[failed.front()]].id, pending->writeAttempt, maxAttempts,
                    failed.size(), error.toString());
    if (pending->writeAttempt >= maxAttempts) {
      // Give up on every event that owns a record that could not be written.
      std::vector<char> owners(pending->batch.events.size(), 0);
      for (uint32_t index : failed) owners[pending->asList ? 0 : pending->owner[index]] = 1;
      if (pending->asList) std::fill(owners.begin(), owners.end(), 1);
      for (uint32_t i = 0; i < owners.size(); ++i) {
        if (owners[i]) giveUp(pending, Failure{i, error, pending->writeAttempt});
      }
      release(pending);
      continue;
    }
    metrics_.retried(trigger);
    if (!clock_.sleepFor(retryDelay(trigger, pending->writeAttempt, backoff), stop)) return;
    ++pending->writeAttempt;
    startWrites(pending, failed);
  }
}

void DeliveryLoop::resumeParked() {
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (!sinkHealth(*it->pending, it->failed).isOk()) {
      ++it;
      continue;
    }
    Parked entry = std::move(*it);
    it = parked_.erase(it);
    SLUICE_LOG_INFO("event {}: output recovered, writing {} parked record(s) again",
                    entry.pending->batch.events[entry.pending->owner[entry.failed.front()]].id, entry.failed.size());
    startWrites(entry.pending, entry.failed);
  }
}

void DeliveryLoop::giveUp(const std::shared_ptr<PendingBatch>& pending, const Failure& failure) {
  const Event& event = pending->batch.events[failure.index];
  const std::string& trigger = pending->batch.trigger;
  metrics_.deadLettered(trigger);
  pending->deadLettered[failure.index] = 1;
  Sink* deadLetter = deadLetter_;
  if (auto it = triggerDeadLetters_.find(trigger); it != triggerDeadLetters_.end()) deadLetter = it->second;
  if (deadLetter == nullptr) {
    SLUICE_LOG_ERROR("event {} (trigger {}) rejected after {} attempt(s), no dead-letter output: {}", event.id, trigger,
                     failure.attempts, failure.error.toString());
    pending->outcomes[failure.index] = Outcome::kRejected;
    return;
  }
  pending->open.fetch_add(1, std::memory_order_relaxed);  // the caller still holds a share, so this cannot race zero
  uint32_t index = failure.index;
  deadLetter->write(deadLetterRecord(event, trigger, failure.error, failure.attempts),
                    [this, pending, index](const Status& status) {
                      if (!status.isOk()) {
                        SLUICE_LOG_ERROR("event {}: writing to the dead-letter output failed, will be redelivered: {}",
                                         pending->batch.events[index].id, status.toString());
                        pending->outcomes[index] = Outcome::kRequeue;
                      }
                      release(pending);
                    });
}

void DeliveryLoop::release(const std::shared_ptr<PendingBatch>& pending) {
  if (pending->open.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  Batch& batch = pending->batch;
  int count = static_cast<int>(batch.events.size());
  int processed = 0;
  for (char dead : pending->deadLettered) processed += dead ? 0 : 1;
  if (processed > 0) metrics_.processed(batch.trigger, processed);
  int64_t bytes = 0;
  for (const Event& event : batch.events) bytes += eventBytes(event);
  complete(batch, pending->outcomes);
  inFlightBytes_ -= bytes;
  int remaining = inFlight_ -= count;
  metrics_.setInFlight(remaining);
  {
    // Taking the lock orders this notify after a waiter's predicate check.
    std::lock_guard lock(mu_);
  }
  capacityCv_.notify_all();
}

void DeliveryLoop::forget(const Batch& batch) {
  int64_t bytes = 0;
  for (const Event& event : batch.events) bytes += eventBytes(event);
  inFlightBytes_ -= bytes;
  metrics_.setInFlight(inFlight_ -= static_cast<int>(batch.events.size()));
  { std::lock_guard lock(mu_); }
  capacityCv_.notify_all();
}

void DeliveryLoop::complete(Batch& batch, const std::vector<Outcome>& outcomes) {
  if (batch.parts.size() == 1) {
    if (batch.parts.front().done) batch.parts.front().done(std::move(batch.events), outcomes);
    return;
  }
  size_t from = 0;
  for (Part& part : batch.parts) {
    const auto first = static_cast<std::ptrdiff_t>(from);
    const auto last = static_cast<std::ptrdiff_t>(from + part.count);
    if (part.done) {
      std::vector<Event> events(std::make_move_iterator(batch.events.begin() + first),
                                std::make_move_iterator(batch.events.begin() + last));
      part.done(std::move(events), std::vector<Outcome>(outcomes.begin() + first, outcomes.begin() + last));
    }
    from += part.count;
  }
}

Result<std::vector<Record>> DeliveryLoop::invoke(const Event& event, const std::string& trigger) {
  metrics_.received(trigger);
  auto result = callHandler(event, trigger, 1);
  if (result.isOk()) {
    metrics_.processed(trigger);
  } else {
    metrics_.failed(trigger);
  }
  return result;
}

}  // namespace sluice::runtime
