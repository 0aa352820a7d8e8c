// ObjectSource: what the claiming object-store sources (directory, S3,
// WebHDFS) share around their own listing and claiming: the trigger's name,
// the scanning thread (ObjectScanLoop: scan every pollInterval, claim upkeep
// every claimTtl/3), stopFetching, and finish(), which stops scanning and
// releases the claims of objects still in flight so another replica takes them.
// A source implements scan(), refreshClaims(), releaseInFlight() and, where a
// killed replica can leave a claim whose object is gone, sweepAbandonedClaims();
// it calls startScanning() at the end of a successful start(), and finish()
// from its own destructor (the hooks are its own). objectEvent() builds the
// event every source hands out for one object, with the same headers.
//
// Threads: as ObjectScanLoop; scan() and the claim upkeep run on its thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "runtime/core/event.h"
#include "runtime/sources/object_scan_loop.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

class ObjectSource : public Source {
 public:
  const std::string& name() const final { return triggerName_; }
  void stopFetching() final { loop_.stopFetching(); }
  // Stops scanning and releases the claims of objects still in flight. Idempotent.
  Status finish(Clock::TimePoint deadline) final;

  // Scans completed so far (tests wait on it after advancing a clock).
  int64_t scans() const { return loop_.scans(); }

 protected:
  // `kind` ("dir", "s3", "webhdfs") and `unit` ("file", "object") name the
  // source and what it reads in its log lines.
  ObjectSource(const std::string& kind, std::string unit, std::string triggerName, Clock& clock,
               std::chrono::milliseconds pollInterval, std::chrono::milliseconds claimTtl);

  // "s3 trigger \"uploads\"": the context of start()'s errors and of the log lines.
  const std::string& where() const { return where_; }
  // After start()'s checks: scans for `dispatcher`; `watched` names what, for the log.
  void startScanning(EventDispatcher& dispatcher, const std::string& watched);
  // False once draining: a scan under way ends early, maintenance skips sweeping.
  bool fetching() const { return loop_.fetching(); }

  // One listing: claims and dispatches what is new (to dispatcher_).
  virtual void scan() = 0;
  // Every claimTtl/3: refreshes the heartbeat of each claim we hold...
  virtual void refreshClaims() = 0;
  // ...then, while fetching, removes claims left by killed replicas whose object is gone (none by default:
  // a source whose claims are found by listing the objects never leaves such a claim behind).
  virtual void sweepAbandonedClaims() {}
  // Closes the in-flight bookkeeping and releases each claim; how many were released.
  virtual size_t releaseInFlight() = 0;

  // The event for one object, its source being this source's kind: `where` (its URL or path, the subject),
  // `version` (ETag or mtime-length; the id is where@version), `bucket` (bucket or directory name).
  Event objectEvent(const std::string& where, const std::string& version, const std::string& bucket,
                    const std::string& key, std::chrono::system_clock::time_point time, std::string data) const;
  // "host-pid": who holds a claim when the options name no owner.
  static std::string defaultOwner();

  Clock& clock_;
  // Whether the delivery loop has room (events and bytes) for another
  // object now; a scan stops reading objects when not, and the next one
  // picks up where it left.
  bool hasRoom() const { return dispatcher_->waitForCapacity(std::chrono::milliseconds(0)); }

  EventDispatcher* dispatcher_ = nullptr;

 private:
  void maintainClaims();

  const std::string kind_;
  const std::string unit_;
  const std::string triggerName_;
  const std::string where_;
  const std::chrono::milliseconds pollInterval_;
  ObjectScanLoop loop_;
};

}  // namespace sluice::runtime
