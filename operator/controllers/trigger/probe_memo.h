// ProbeMemo: one connection attempt per endpoint for a while, shared by every
// Trigger that names it. Each Trigger's minute recheck probed its source
// itself: 500 Kafka Triggers on one cluster were 500 connections a minute to
// the same broker, and with that broker down, 500 two-second connect
// timeouts a minute on the controller's workers.
//
// A result is reused for `fresh`; so a broker that comes back (or goes away)
// is seen at most that much later than by a probe of its own. Probes of one
// endpoint that start together before any result is stored may each connect
// (at most one per worker); nothing waits for another's probe.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::controllers {

// Tries a TCP connection to host:port; the error names the address.
using EndpointProbe = std::function<Status(const std::string& host, int port)>;

class ProbeMemo {
 public:
  ProbeMemo(EndpointProbe probe, Clock& clock, Clock::Duration fresh);

  // The stored result for host:port if younger than `fresh`, else a new probe's (then stored).
  Status probe(const std::string& host, int port);

 private:
  struct Result {
    Clock::TimePoint at;
    Status status;
  };
  EndpointProbe probe_;
  Clock& clock_;
  const Clock::Duration fresh_;
  std::mutex mu_;
  std::map<std::string, Result> results_;  // by host:port; stale ones dropped as new ones come
};

}  // namespace sluice::controllers
