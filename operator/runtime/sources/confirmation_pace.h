// ConfirmationPace: how long a Kafka source may go without a commit
// confirmation before it counts as a stall (the group rebalancing, which holds
// every commit until the rebalance ends; see KafkaSourceOptions).
//
// A fixed threshold is wrong on one machine or the other: confirmations take
// a few milliseconds on a quiet broker and tens on a loaded one. So the
// threshold follows the broker: twice the slowest round trip of the last one
// or two windows, kept within [floor, ceiling]. A rebalance holds
// confirmations for seconds, so it is still seen within a few round trips,
// and a broker that is merely slow does not hold ordinary dispatch. Not
// thread-safe: owned by the source's consumer thread.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace sluice::runtime {

class ConfirmationPace {
 public:
  ConfirmationPace(std::chrono::milliseconds floor, std::chrono::milliseconds ceiling,
                   std::chrono::milliseconds window);

  // A commit sent at `sent` was confirmed at `now`.
  void confirmed(Clock::TimePoint sent, Clock::TimePoint now);
  // How long without a confirmation is a stall.
  std::chrono::milliseconds stallAfter() const;

 private:
  std::chrono::milliseconds floor_;
  std::chrono::milliseconds ceiling_;
  std::chrono::milliseconds window_;
  // The slowest round trip of the current window and of the one before it,
  // so the slowest is never forgotten the moment a window turns.
  Clock::Duration slowest_{0};
  Clock::Duration slowestBefore_{0};
  Clock::TimePoint windowEnd_{};
};

}  // namespace sluice::runtime
