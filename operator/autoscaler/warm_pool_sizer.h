// WarmPoolSizer: the size of one warm pool from the demand on it (issue 19).
//
// A pool is shared by every Function whose pods have its shape (image, Secrets,
// resources: platform::warmPoolOf), so its demand is theirs together: each new
// replica any of them needs is a start the pool may serve (an adoption) or not
// (a cold start). An adopted pod is replaced one pod start later, so the pool
// serves a run of starts warm only if it holds as many pods as start within one
// pod start time. Its demand is the most starts seen within one pod start
// (podStartSeconds) over the last windowSeconds, bounded by [floor, ceiling]:
// no start in the window, the floor; a burst raises it at once to the burst
// (bounded by the ceiling), and it decays back as the burst leaves the window.
// The mean rate over the window (Little's law: rate x pod start) would size
// for a steady stream; starts come in bursts (a Function waking from zero, a
// spike), and the rate of a burst averaged over minutes sizes below it (the
// bench: bench/autoscaler/warm_pool.sh). Functions that set
// spec.scaling.warmPool.size ask for at least that many: size() takes that floor.
// Used by the WarmPoolController and by the simulator (N Functions on one pool).
// Thread-compatible; time comes from the caller.
#pragma once

#include <deque>
#include <string>

#include "common/clock.h"

namespace sluice::autoscaler {

struct WarmPoolSizing {
  double windowSeconds = 300;   // how far back starts count
  double podStartSeconds = 10;  // how long a new warm pod takes to be Ready
  int floor = 0;                // the least pods a pool keeps
  int ceiling = 0;              // the most the demand may ask for (0: demand sizing off)
};

// Refuses settings that cannot size a pool; the message names the operator flag,
// e.g. "--warm-pool-ceiling: 2 is below --warm-pool-floor 3".
bool validWarmPoolSizing(const WarmPoolSizing& sizing, std::string* error);

class WarmPoolSizer {
 public:
  explicit WarmPoolSizer(WarmPoolSizing sizing) : sizing_(sizing) {}

  // `starts` new replicas were needed at `at`, `warm` of them served by the pool.
  void recordStarts(int starts, int warm, Clock::TimePoint at);
  // Starts per minute over the window ending at `now`.
  double startsPerMinute(Clock::TimePoint now);
  // The pool's size at `now`: the demand bounded by [floor, ceiling], at least `functionFloor`
  // (the largest spec.scaling.warmPool.size of its Functions).
  int size(Clock::TimePoint now, int functionFloor = 0);

  // Since the sizer was made: starts, and those served warm.
  long long startsTotal() const { return startsTotal_; }
  long long warmTotal() const { return warmTotal_; }
  // Whether a start is still in the window (the size may still change as time passes).
  bool decaying() const { return !starts_.empty(); }

 private:
  struct Start {
    Clock::TimePoint at;
    int count = 0;
  };
  void expire(Clock::TimePoint now);
  // The most starts within one pod start among those kept (expire() first).
  int peakWithinPodStart() const;

  WarmPoolSizing sizing_;
  std::deque<Start> starts_;
  int inWindow_ = 0;
  long long startsTotal_ = 0;
  long long warmTotal_ = 0;
};

}  // namespace sluice::autoscaler
