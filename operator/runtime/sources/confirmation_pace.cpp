#include "runtime/sources/confirmation_pace.h"

#include <algorithm>

namespace sluice::runtime {

ConfirmationPace::ConfirmationPace(std::chrono::milliseconds floor, std::chrono::milliseconds ceiling,
                                   std::chrono::milliseconds window)
    : floor_(floor), ceiling_(std::max(floor, ceiling)), window_(window) {}

void ConfirmationPace::confirmed(Clock::TimePoint sent, Clock::TimePoint now) {
  if (now >= windowEnd_) {
    // A window with no confirmation at all forgets both: the broker's pace then is unknown.
    slowestBefore_ = now >= windowEnd_ + window_ ? Clock::Duration{0} : slowest_;
    slowest_ = Clock::Duration{0};
    windowEnd_ = now + window_;
  }
  slowest_ = std::max(slowest_, now - sent);
}

std::chrono::milliseconds ConfirmationPace::stallAfter() const {
  auto twice = std::chrono::ceil<std::chrono::milliseconds>(2 * std::max(slowest_, slowestBefore_));
  return std::clamp(twice, floor_, ceiling_);
}

}  // namespace sluice::runtime
