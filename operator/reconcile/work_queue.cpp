#include "reconcile/work_queue.h"

#include <algorithm>
#include <vector>

namespace sluice::reconcile {

WorkQueue::WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rateLimiter)
    : clock_(clock), rateLimiter_(rateLimiter ? std::move(rateLimiter) : defaultControllerRateLimiter(clock)) {
  delayThread_ = std::jthread([this](std::stop_token stop) { delayLoop(stop); });
}

WorkQueue::~WorkQueue() {
  shutDown();
  delayThread_.request_stop();
  {
    std::lock_guard lock(mu_);
    sleepInterrupt_.request_stop();
  }
  delayedCv_.notify_all();
  delayThread_.join();
}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_) return;
  if (!dirty_.insert(key).second) return;  // already waiting
  // A key being processed is queued again by done(); queuing it now would let
  // a second worker take it concurrently.
  if (metrics_) metrics_->queueAdded(metricsName_);
  if (processing_.count(key)) return;
  queue_.push_back(key);
  if (metrics_) metrics_->queueDepth(metricsName_, queue_.size());
  cv_.notify_one();
}

void WorkQueue::setMetrics(ControllerMetrics* metrics, std::string name) {
  std::lock_guard lock(mu_);
  metrics_ = metrics;
  metricsName_ = std::move(name);
  if (metrics_) metrics_->registerController(metricsName_);
  if (metrics_) metrics_->queueDepth(metricsName_, queue_.size());
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, Clock::Duration delay) {
  if (delay <= Clock::Duration::zero()) {
    add(key);
    return;
  }
  std::lock_guard lock(mu_);
  if (shuttingDown_) return;
  auto readyAt = clock_.now() + delay;
  auto [it, inserted] = delayed_.try_emplace(key, readyAt);
  if (!inserted) {
    if (readyAt >= it->second) return;  // already due earlier
    byTime_.erase({it->second, key});
    it->second = readyAt;
  }
  const bool earliest = byTime_.empty() || readyAt < byTime_.begin()->first;
  byTime_.emplace(readyAt, key);
  // The delay thread sleeps towards the earliest deadline: wake it only when this one comes first.
  if (!earliest) return;
  sleepInterrupt_.request_stop();
  delayedCv_.notify_all();
}

void WorkQueue::addRateLimited(const std::string& key) {
  if (metrics_) metrics_->queueRetried(metricsName_);
  addAfter(key, rateLimiter_->when(key));
}

void WorkQueue::forget(const std::string& key) { rateLimiter_->forget(key); }

int WorkQueue::numRequeues(const std::string& key) { return rateLimiter_->numRequeues(key); }

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || shuttingDown_; });
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  if (metrics_) metrics_->queueDepth(metricsName_, queue_.size());
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    if (metrics_) metrics_->queueDepth(metricsName_, queue_.size());
    cv_.notify_one();
  }
  // Not the workers' variable: waking every idle worker at the end of each
  // reconcile was a fifth of an idle operator's CPU (8 autoscaler workers, 10
  // reconciles a second at 300 Functions; BENCHMARKS.md, "Scale").
  if (processing_.empty()) drainedCv_.notify_all();
}

void WorkQueue::shutDown() {
  {
    std::lock_guard lock(mu_);
    shuttingDown_ = true;
    sleepInterrupt_.request_stop();
  }
  cv_.notify_all();
  delayedCv_.notify_all();
}

void WorkQueue::shutDownWithDrain() {
  shutDown();
  std::unique_lock lock(mu_);
  drainedCv_.wait(lock, [&] { return processing_.empty(); });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shuttingDown_;
}

size_t WorkQueue::length() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkQueue::delayedLength() const {
  std::lock_guard lock(mu_);
  return delayed_.size();
}

void WorkQueue::delayLoop(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested() && !shuttingDown_) {
    // Move every key whose time has come: the front of byTime_, not a scan of every delayed key
    // (an operator with 1,000 Functions keeps about as many here).
    const auto now = clock_.now();
    while (!byTime_.empty() && byTime_.begin()->first <= now) {
      std::string key = byTime_.begin()->second;
      byTime_.erase(byTime_.begin());
      delayed_.erase(key);
      addLocked(key);
    }
    if (delayed_.empty()) {
      delayedCv_.wait(lock, [&] { return stop.stop_requested() || shuttingDown_ || !delayed_.empty(); });
      continue;
    }
    // Sleep on the Clock (so fake time drives it) without holding the lock;
    // a new, earlier key interrupts the sleep through sleepInterrupt_.
    if (sleepInterrupt_.stop_requested()) sleepInterrupt_ = std::stop_source();
    std::stop_token interrupt = sleepInterrupt_.get_token();
    const Clock::TimePoint next = byTime_.begin()->first;
    lock.unlock();
    clock_.sleepUntil(next, interrupt);
    lock.lock();
  }
}

}  // namespace sluice::reconcile
