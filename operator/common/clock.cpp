#include "common/clock.h"

namespace sluice {

bool RealClock::sleepUntil(TimePoint deadline, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // wait_until with a stop_token wakes on stop requests without polling.
  cv.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested();
}

Clock& realClock() {
  // Never destroyed: threads that outlive main() (the Python host's) still
  // read it while static destructors run at exit.
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace sluice
