#include "runtime/sources/object_scan_loop.h"

#include <algorithm>

namespace sluice::runtime {

void ObjectScanLoop::start(std::function<void()> scan, std::function<void()> maintain) {
  scan_ = std::move(scan);
  maintain_ = std::move(maintain);
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void ObjectScanLoop::stopFetching() {
  fetching_ = false;
  std::lock_guard lock(scanMu_);
}

void ObjectScanLoop::stop() {
  fetching_ = false;
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void ObjectScanLoop::run(const std::stop_token& stop) {
  Clock::TimePoint nextMaintenance = clock_.now() + maintainEvery_;
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(scanMu_);
      if (fetching_) scan_();
    }
    ++scans_;
    if (clock_.now() >= nextMaintenance) {
      maintain_();
      nextMaintenance = clock_.now() + maintainEvery_;
    }
    Clock::TimePoint wake = std::min(clock_.now() + pollInterval_, nextMaintenance);
    if (!clock_.sleepUntil(wake, stop)) return;
  }
}

}  // namespace sluice::runtime
