// FakeClock: a Clock whose time moves only when a test calls advance().
//
// Sleepers block until advance() carries time past their deadline (or they are
// stopped), so backoff, stabilization windows and timeouts are tested without
// real waiting. Thread-safe: sleepers and the driving test may be on different
// threads; waitForSleepers() lets the test wait until N threads are parked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

#include "common/clock.h"

namespace sluice::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1),
                     std::chrono::system_clock::time_point wallStart = std::chrono::system_clock::time_point{} +
                                                                       std::chrono::hours(24 * 365 * 56))
      : now_(start), wallStart_(wallStart), start_(start) {}

  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }

  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard lock(mu_);
    return wallStart_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - start_);
  }

  bool sleepUntil(TimePoint deadline, std::stop_token stop) override {
    std::unique_lock lock(mu_);
    ++sleepers_;
    sleepersChanged_.notify_all();
    bool reached = cv_.wait(lock, stop, [&] { return now_ >= deadline; });
    --sleepers_;
    sleepersChanged_.notify_all();
    return reached;
  }

  void advance(Duration d) {
    {
      std::lock_guard lock(mu_);
      now_ += d;
    }
    cv_.notify_all();
  }

  // Blocks until at least `count` threads are inside sleepUntil().
  void waitForSleepers(int count) {
    std::unique_lock lock(mu_);
    sleepersChanged_.wait(lock, [&] { return sleepers_ >= count; });
  }
  // The same for at most `timeout` of real time; false when they never came
  // (a test of code that should sleep then fails instead of hanging).
  bool waitForSleepers(int count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return sleepersChanged_.wait_for(lock, timeout, [&] { return sleepers_ >= count; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::condition_variable sleepersChanged_;
  TimePoint now_;
  std::chrono::system_clock::time_point wallStart_;
  TimePoint start_;
  int sleepers_ = 0;
};

}  // namespace sluice::testing
