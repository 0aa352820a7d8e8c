#include "runtime/sources/claimed_objects.h"

namespace sluice::runtime {

ClaimedObjects::Admission ClaimedObjects::admit(const std::string& key) const {
  std::lock_guard lock(mu_);
  if (inFlight_.contains(key)) return Admission::kAlreadyOurs;
  if (inFlight_.size() >= maxInFlight_) return Admission::kFull;
  return Admission::kTake;
}

void ClaimedObjects::add(const std::string& key, std::string version) {
  std::lock_guard lock(mu_);
  inFlight_[key] = std::move(version);
}

bool ClaimedObjects::complete(const std::string& key) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  inFlight_.erase(key);
  return true;
}

std::vector<std::string> ClaimedObjects::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(inFlight_.size());
  for (const auto& [key, version] : inFlight_) out.push_back(key);
  return out;
}

size_t ClaimedObjects::closeAndRelease(const std::function<void(const std::string& key)>& release) {
  std::map<std::string, std::string> unfinished;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    closed_ = true;
    unfinished.swap(inFlight_);
  }
  for (const auto& [key, version] : unfinished) release(key);
  return unfinished.size();
}

}  // namespace sluice::runtime
