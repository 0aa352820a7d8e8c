// Expectations: the ReplicaSet controller's guard against a lagging cache.
//
// Before a reconcile creates (or deletes) N objects it records that it expects
// to see N creations (deletions); the informer's handlers lower the counts as
// the watch delivers them. Until the counts reach zero (or the record is older
// than the TTL, 5 minutes by default, in case a watch event was missed), the
// controller must not act on the cache's object count again, so it never
// double-creates. Keys are the owner's "namespace/name". Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace sluice::reconcile {

class Expectations {
 public:
  explicit Expectations(Clock& clock, Clock::Duration ttl = std::chrono::minutes(5)) : clock_(clock), ttl_(ttl) {}

  // Replaces the key's record with these counts, stamped now.
  void expect(const std::string& key, int creations, int deletions);
  void expectCreations(const std::string& key, int count) { expect(key, count, 0); }
  void expectDeletions(const std::string& key, int count) { expect(key, 0, count); }
  // Raise the counts of an existing (or new) record, e.g. when a batch grows.
  void raise(const std::string& key, int creations, int deletions);

  // Called from informer handlers when an owned object appears / disappears,
  // and by the controller when a create/delete call fails (it will not be observed).
  void creationObserved(const std::string& key);
  void deletionObserved(const std::string& key);

  // True when the controller may trust the cache for this key: no record, both
  // counts at or below zero, or the record expired.
  bool satisfied(const std::string& key) const;
  // Outstanding counts (for tests and logs); {0,0} when there is no record.
  std::pair<int, int> pending(const std::string& key) const;

  // Drops the record (the owner was deleted).
  void forget(const std::string& key);

 private:
  struct Record {
    int creations = 0;
    int deletions = 0;
    Clock::TimePoint stamped;
  };

  Clock& clock_;
  const Clock::Duration ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Record> records_;
};

}  // namespace sluice::reconcile
