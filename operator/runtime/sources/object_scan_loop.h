// ObjectScanLoop: the scanning thread every object-store source (directory,
// S3, WebHDFS) runs: scan every pollInterval, and every maintainEvery (a
// third of the claim TTL) do the claim upkeep (refresh own claims, sweep
// abandoned ones), on one thread that a source's drain can stop.
//
// stopFetching() returns only after a scan under way has ended, so nothing is
// dispatched after it; scans check fetching() between objects to end early.
// Thread-safe; start() and stop() are called from the control thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clock.h"

namespace sluice::runtime {

class ObjectScanLoop {
 public:
  ObjectScanLoop(Clock& clock, std::chrono::milliseconds pollInterval, std::chrono::milliseconds maintainEvery)
      : clock_(clock), pollInterval_(pollInterval), maintainEvery_(maintainEvery) {}
  ~ObjectScanLoop() { stop(); }

  // Starts the thread: `scan` runs while fetching, `maintain` every maintainEvery.
  void start(std::function<void()> scan, std::function<void()> maintain);
  bool fetching() const { return fetching_.load(); }
  // Fetch nothing new; waits for a scan under way to end.
  void stopFetching();
  // Stops fetching and joins the thread. Idempotent.
  void stop();
  // Scans completed so far (tests wait on it after advancing a clock).
  int64_t scans() const { return scans_.load(); }

 private:
  void run(const std::stop_token& stop);

  Clock& clock_;
  const std::chrono::milliseconds pollInterval_;
  const std::chrono::milliseconds maintainEvery_;
  std::function<void()> scan_;
  std::function<void()> maintain_;
  std::mutex scanMu_;  // held while scanning; stopFetching() waits for it
  std::atomic<bool> fetching_{true};
  std::atomic<int64_t> scans_{0};
  std::jthread thread_;
};

}  // namespace sluice::runtime
