#include "reconcile/expectations.h"

namespace sluice::reconcile {

void Expectations::expect(const std::string& key, int creations, int deletions) {
  std::lock_guard lock(mu_);
  records_[key] = Record{creations, deletions, clock_.now()};
}

void Expectations::raise(const std::string& key, int creations, int deletions) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = records_.try_emplace(key, Record{0, 0, clock_.now()});
  it->second.creations += creations;
  it->second.deletions += deletions;
}

void Expectations::creationObserved(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it != records_.end()) --it->second.creations;
}

void Expectations::deletionObserved(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it != records_.end()) --it->second.deletions;
}

bool Expectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.creations <= 0 && r.deletions <= 0) return true;
  // A lost watch event must not wedge the owner forever.
  return clock_.now() - r.stamped > ttl_;
}

std::pair<int, int> Expectations::pending(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return {0, 0};
  return {it->second.creations, it->second.deletions};
}

void Expectations::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  records_.erase(key);
}

}  // namespace sluice::reconcile
