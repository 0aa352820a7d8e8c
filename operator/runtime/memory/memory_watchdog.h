// MemoryWatchdog: restarts the replica cleanly before the kernel OOM-kills it.
//
// A handler that leaks, or a spike the byte budget did not foresee, grows
// the process until the container's memory limit; the kernel then kills it
// with SIGKILL, mid-write, with no drain and no word of why. The watchdog
// samples the resident set every `interval`; once it reaches `threshold`
// of the limit it trips once: the caller sheds load (nothing new starts,
// the rest stays unacknowledged for redelivery), drains (commits what is
// done) and exits with a termination message. Nothing is lost; a restarted
// replica picks the work up again.
//
// The headroom (1 - threshold) x limit must hold what the handler can
// allocate within one interval, which is why the default interval is short:
// reading /proc/self/statm costs microseconds. A thread starved of CPU on
// a busy node can still be late, so the delivery loop also samples before
// each event starts (memoryOverThreshold): a handler that allocates fast
// cannot start another event past the threshold.
//
// Thread-safety: start()/stop() from one thread; check() and sample() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"

namespace sluice::runtime {

// This process's resident set in bytes (the second field of `statmFile`, in
// pages), or -1 when unreadable.
int64_t residentBytes(const std::string& statmFile = "/proc/self/statm");

struct MemoryWatchdogOptions {
  int64_t limitBytes = 0;  // <= 0: the watchdog never trips
  double threshold = 0.9;  // of limitBytes
  std::chrono::milliseconds interval{20};
};

class MemoryWatchdog {
 public:
  // `readResident` returns the resident set in bytes (-1: unknown, ignored).
  MemoryWatchdog(MemoryWatchdogOptions options, std::function<int64_t()> readResident, Clock& clock);
  ~MemoryWatchdog();
  MemoryWatchdog(const MemoryWatchdog&) = delete;
  MemoryWatchdog& operator=(const MemoryWatchdog&) = delete;

  // One sample: the termination message when the resident set reached the
  // threshold, else nullopt.
  std::optional<std::string> check() const;

  // Samples on a thread of its own until stop() or the first trip, on which
  // `onTrip` runs (on the sampling thread) with the termination message.
  // Until stop(), this is the process's watchdog (memoryOverThreshold).
  void start(std::function<void(const std::string& message)> onTrip);
  void stop();

  // A sample on the calling thread (at most one every 5 ms; between two,
  // the last verdict holds): trips as the watchdog's thread would; true once tripped.
  bool sample();

  int64_t thresholdBytes() const;

 private:
  const MemoryWatchdogOptions options_;
  const std::function<int64_t()> readResident_;
  Clock& clock_;
  std::function<void(const std::string& message)> onTrip_;
  std::atomic<bool> tripped_{false};
  std::atomic<int64_t> lastSampleNanos_{0};
  std::jthread thread_;

  void trip(const std::string& message);
};

// The started watchdog's sample() (see MemoryWatchdog); false when none runs.
bool memoryOverThreshold();

}  // namespace sluice::runtime
