#include "runtime/delivery/delivery_loop.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "common/logging.h"

namespace sluice::runtime {

namespace {

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
  record.headers.emplace_back(kDeadLetterErrorHeader, error.toString());
  record.headers.emplace_back(kDeadLetterAttemptsHeader, std::to_string(attempts));
  record.headers.emplace_back(kDeadLetterEventIdHeader, event.id);
  record.headers.emplace_back(kDeadLetterSourceHeader, sourcePosition(event));
  record.headers.emplace_back(kDeadLetterTriggerHeader, trigger);
  return record;
}

// The outputs of one event while their writes are outstanding.
struct DeliveryLoop::PendingWrite {
  Item item;
  std::vector<Record> records;
  std::mutex mu;
  size_t remaining = 0;        // guarded by mu
  std::vector<size_t> failed;  // guarded by mu: indexes of records whose last write failed
  Status lastError;            // guarded by mu
  int attempt = 1;             // touched only by the thread that starts writes
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
}

void DeliveryLoop::setTriggerDeadLetter(const std::string& trigger, Sink* sink) { triggerDeadLetters_[trigger] = sink; }

int DeliveryLoop::maxAttemptsFor(const std::string& trigger) const {
  auto it = options_.maxAttemptsByTrigger.find(trigger);
  return it == options_.maxAttemptsByTrigger.end() ? options_.maxAttempts : it->second;
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
  std::unique_lock lock(mu_);
  return capacityCv_.wait_for(lock, timeout, [&] { return stopping_ || inFlight_.load() < options_.maxInFlight; }) &&
         !stopping_;
}

void DeliveryLoop::dispatch(Event event, std::string lane, std::string trigger, CompletionCallback done) {
  metrics_.received(trigger);
  metrics_.setInFlight(++inFlight_);
  {
    std::lock_guard lock(mu_);
    if (lane.empty()) lane = "\x01unordered/" + std::to_string(unorderedSequence_++);
    auto [it, inserted] = lanes_.try_emplace(lane);
    it->second.items.push_back(Item{std::move(event), std::move(trigger), std::move(done)});
    // A lane that already existed is either queued in ready_ or held by a worker,
    // which re-queues it when it finishes the current event.
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
    Item item;
    {
      std::unique_lock lock(mu_);
      workCv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      lane = std::move(ready_.front());
      ready_.pop_front();
      auto& queue = lanes_[lane].items;
      item = std::move(queue.front());
      queue.pop_front();
    }
    process(std::move(item), backoff, stop);
    {
      std::lock_guard lock(mu_);
      auto it = lanes_.find(lane);
      if (it->second.items.empty()) {
        lanes_.erase(it);
      } else {
        ready_.push_back(lane);
        workCv_.notify_one();
      }
    }
  }
}

Result<std::vector<Record>> DeliveryLoop::callHandler(const Event& event, const std::string& trigger, int attempt) {
  InvocationContext context;
  context.requestId = event.id;
  context.functionName = options_.functionName;
  context.triggerName = trigger;
  context.attempt = attempt;
  Clock::TimePoint started = clock_.now();
  context.deadline = started + options_.handlerTimeout;

  Result<std::vector<Record>> result = internalError("handler not called");
  {
    std::unique_lock<std::mutex> lock(handlerMu_, std::defer_lock);
    if (!options_.handlerThreadSafe) lock.lock();
    try {
      result = handler_.handle(event, context);
    } catch (const std::exception& e) {
      result = internalError(std::string("handler threw: ") + e.what());
    } catch (...) {
      result = internalError("handler threw a non-standard exception");
    }
  }
  Clock::TimePoint finished = clock_.now();
  metrics_.handlerSeconds(trigger, secondsBetween(started, finished));
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

void DeliveryLoop::process(Item item, Backoff& backoff, std::stop_token stop) {
  Status lastError;
  int attempt = 1;
  const int maxAttempts = maxAttemptsFor(item.trigger);
  for (;; ++attempt) {
    auto result = callHandler(item.event, item.trigger, attempt);
    if (result.isOk()) {
      Status outputs = checkOutputs(result.value());
      if (outputs.isOk()) {
        metrics_.outputsPerEvent(item.trigger, static_cast<double>(result.value().size()));
        writeOutputs(std::move(item), std::move(result).value());
        return;
      }
      lastError = outputs;
    } else {
      lastError = result.status();
    }
    metrics_.failed(item.trigger);
    SLUICE_LOG_WARN("event {} (trigger {}) attempt {}/{} failed: {}", item.event.id, item.trigger, attempt, maxAttempts,
                    lastError.toString());
    if (options_.handlerHealthy && !options_.handlerHealthy()) {
      SLUICE_LOG_ERROR("event {} (trigger {}) left unacknowledged for redelivery: the handler host is unhealthy",
                       item.event.id, item.trigger);
      return;
    }
    if (lastError.code() == StatusCode::kInvalidArgument || attempt >= maxAttempts) break;
    metrics_.retried(item.trigger);
    if (!clock_.sleepFor(backoff.delay(attempt), stop)) return;  // hard stop: left for redelivery
  }
  giveUp(std::move(item), lastError, attempt);
}

void DeliveryLoop::writeOutputs(Item item, std::vector<Record> records) {
  if (records.empty()) {
    metrics_.processed(item.trigger);
    complete(item, Outcome::kAcked);
    return;
  }
  auto pending = std::make_shared<PendingWrite>();
  pending->item = std::move(item);
  pending->records = std::move(records);
  std::vector<size_t> all(pending->records.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  startWrites(pending, all);
}

void DeliveryLoop::startWrites(const std::shared_ptr<PendingWrite>& pending, const std::vector<size_t>& indexes) {
  {
    std::lock_guard lock(pending->mu);
    pending->remaining = indexes.size();
    pending->failed.clear();
  }
  for (size_t index : indexes) {
    const Record& record = pending->records[index];
    sinks_.at(record.sink)->write(record, [this, pending, index](Status status) { onWritten(pending, index, status); });
  }
}

void DeliveryLoop::onWritten(const std::shared_ptr<PendingWrite>& pending, size_t index, const Status& status) {
  bool allDone = false;
  bool anyFailed = false;
  {
    std::lock_guard lock(pending->mu);
    if (!status.isOk()) {
      pending->failed.push_back(index);
      pending->lastError = status.withContext("writing output to sink \"" + pending->records[index].sink + "\"");
    }
    allDone = --pending->remaining == 0;
    anyFailed = !pending->failed.empty();
  }
  if (!allDone) return;
  if (!anyFailed) {
    metrics_.processed(pending->item.trigger);
    complete(pending->item, Outcome::kAcked);
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
    std::shared_ptr<PendingWrite> pending;
    {
      std::unique_lock lock(retryMu_);
      if (!retryCv_.wait(lock, stop, [&] { return !retries_.empty(); })) return;
      pending = std::move(retries_.front());
      retries_.pop_front();
    }
    std::vector<size_t> failed;
    Status error;
    {
      std::lock_guard lock(pending->mu);
      failed = pending->failed;
      error = pending->lastError;
    }
    metrics_.failed(pending->item.trigger);
    const int maxAttempts = maxAttemptsFor(pending->item.trigger);
    SLUICE_LOG_WARN("event {}: write attempt {}/{} failed: {}", pending->item.event.id, pending->attempt, maxAttempts,
                    error.toString());
    if (pending->attempt >= maxAttempts) {
      giveUp(std::move(pending->item), error, pending->attempt);
      continue;
    }
    metrics_.retried(pending->item.trigger);
    if (!clock_.sleepFor(backoff.delay(pending->attempt), stop)) return;
    ++pending->attempt;
    startWrites(pending, failed);
  }
}

void DeliveryLoop::giveUp(Item item, const Status& error, int attempts) {
  metrics_.deadLettered(item.trigger);
  Sink* deadLetter = deadLetter_;
  if (auto it = triggerDeadLetters_.find(item.trigger); it != triggerDeadLetters_.end()) deadLetter = it->second;
  if (deadLetter == nullptr) {
    SLUICE_LOG_ERROR("event {} (trigger {}) rejected after {} attempt(s), no dead-letter output: {}", item.event.id,
                     item.trigger, attempts, error.toString());
    complete(item, Outcome::kRejected);
    return;
  }
  Record record = deadLetterRecord(item.event, item.trigger, error, attempts);
  auto shared = std::make_shared<Item>(std::move(item));
  deadLetter->write(std::move(record), [this, shared](Status status) {
    if (status.isOk()) {
      complete(*shared, Outcome::kAcked);
    } else {
      SLUICE_LOG_ERROR("event {}: writing to the dead-letter output failed, will be redelivered: {}", shared->event.id,
                       status.toString());
      complete(*shared, Outcome::kRequeue);
    }
  });
}

void DeliveryLoop::complete(Item& item, Outcome outcome) {
  if (item.done) item.done(outcome);
  int remaining = --inFlight_;
  metrics_.setInFlight(remaining);
  {
    // Taking the lock orders this notify after a waiter's predicate check.
    std::lock_guard lock(mu_);
  }
  capacityCv_.notify_all();
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
