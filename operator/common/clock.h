// Clock: the seam between Sluice's timers and real time.
//
// Every component that waits, backs off or measures windows takes a Clock&, so
// tests drive time with FakeClock (tests/fakes) and stay deterministic. Both
// implementations are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <utility>

namespace sluice {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time for intervals, deadlines and windows.
  virtual TimePoint now() const = 0;
  // Wall-clock time, only for timestamps shown to people or stored in objects.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;

  // Blocks until `deadline` or until `stop` is requested; returns false when stopped early.
  virtual bool sleepUntil(TimePoint deadline, std::stop_token stop) = 0;
  bool sleepFor(Duration d, std::stop_token stop) { return sleepUntil(now() + d, std::move(stop)); }
};

// The real clock. realClock() returns a process-wide instance.
class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override { return std::chrono::system_clock::now(); }
  bool sleepUntil(TimePoint deadline, std::stop_token stop) override;
};

Clock& realClock();

}  // namespace sluice
