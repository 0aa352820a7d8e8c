#include "controllers/trigger/probe_memo.h"

#include <utility>

namespace sluice::controllers {

ProbeMemo::ProbeMemo(EndpointProbe probe, Clock& clock, Clock::Duration fresh)
    : probe_(std::move(probe)), clock_(clock), fresh_(fresh) {}

Status ProbeMemo::probe(const std::string& host, int port) {
  const std::string endpoint = host + ":" + std::to_string(port);
  {
    std::lock_guard lock(mu_);
    auto it = results_.find(endpoint);
    if (it != results_.end() && clock_.now() - it->second.at < fresh_) return it->second.status;
  }
  Status status = probe_(host, port);  // unlocked: a connect may take seconds
  std::lock_guard lock(mu_);
  const Clock::TimePoint now = clock_.now();
  std::erase_if(results_, [&](const auto& entry) { return now - entry.second.at >= fresh_; });
  results_[endpoint] = Result{now, status};
  return status;
}

}  // namespace sluice::controllers
