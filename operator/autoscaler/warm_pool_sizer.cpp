#include "autoscaler/warm_pool_sizer.h"

#include <algorithm>
#include <string>

namespace sluice::autoscaler {

bool validWarmPoolSizing(const WarmPoolSizing& s, std::string* error) {
  auto refuse = [error](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
  };
  if (!(s.windowSeconds > 0))
    return refuse("--warm-pool-window-seconds: " + std::to_string(s.windowSeconds) + " is not positive");
  if (!(s.podStartSeconds > 0)) {
    return refuse("--warm-pool-pod-start-seconds: " + std::to_string(s.podStartSeconds) + " is not positive");
  }
  if (s.floor < 0) return refuse("--warm-pool-floor: " + std::to_string(s.floor) + " is negative");
  if (s.ceiling < 0) return refuse("--warm-pool-ceiling: " + std::to_string(s.ceiling) + " is negative");
  if (s.ceiling > 0 && s.ceiling < s.floor) {
    return refuse("--warm-pool-ceiling: " + std::to_string(s.ceiling) + " is below --warm-pool-floor " +
                  std::to_string(s.floor));
  }
  return true;
}

void WarmPoolSizer::recordStarts(int starts, int warm, Clock::TimePoint at) {
  if (starts <= 0) return;
  starts_.push_back({at, starts});
  inWindow_ += starts;
  startsTotal_ += starts;
  warmTotal_ += std::clamp(warm, 0, starts);
}

void WarmPoolSizer::expire(Clock::TimePoint now) {
  const auto window = std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(sizing_.windowSeconds));
  while (!starts_.empty() && now - starts_.front().at >= window) {
    inWindow_ -= starts_.front().count;
    starts_.pop_front();
  }
}

double WarmPoolSizer::startsPerMinute(Clock::TimePoint now) {
  expire(now);
  return inWindow_ * 60.0 / sizing_.windowSeconds;
}

int WarmPoolSizer::peakWithinPodStart() const {
  // Two fingers over the window's starts (in time order): the most within any span shorter than a pod start.
  const auto podStart =
      std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(sizing_.podStartSeconds));
  int peak = 0;
  int sum = 0;
  size_t first = 0;
  for (size_t last = 0; last < starts_.size(); ++last) {
    sum += starts_[last].count;
    while (starts_[last].at - starts_[first].at >= podStart) sum -= starts_[first++].count;
    peak = std::max(peak, sum);
  }
  return peak;
}

int WarmPoolSizer::size(Clock::TimePoint now, int functionFloor) {
  expire(now);
  const int demand = sizing_.ceiling > 0 ? std::min(peakWithinPodStart(), sizing_.ceiling) : 0;
  return std::max({demand, sizing_.floor, functionFloor, 0});
}

}  // namespace sluice::autoscaler
