#include "reconcile/leader_election.h"

#include <ctime>
#include <thread>

#include "common/logging.h"
#include "common/time.h"

namespace sluice::reconcile {

using kube::Json;

LeaderElector::LeaderElector(kube::ResourceClient& client, LeaderElectionConfig config, Clock& clock)
    : client_(client), config_(std::move(config)), clock_(clock) {}

std::string LeaderElector::nowMicroTime() const { return rfc3339(clock_.wallNow(), FractionalSeconds::kMicros); }

void LeaderElector::observe(const std::string& holder, const std::string& renewTime) {
  if (!observed_ || holder != observedHolder_ || renewTime != observedRenewTime_) {
    observed_ = true;
    observedHolder_ = holder;
    observedRenewTime_ = renewTime;
    observedAt_ = clock_.now();
  }
}

bool LeaderElector::tryAcquireOrRenew(Clock::Duration deference) {
  const auto leaseSeconds = std::chrono::duration_cast<std::chrono::seconds>(config_.leaseDuration).count();
  std::string now = nowMicroTime();
  auto current = client_.get(kube::resources::kLeases, config_.ns, config_.name);
  if (!current) {
    if (current.status().code() != StatusCode::kNotFound) {
      SLUICE_LOG_WARN("leader election: reading Lease {}/{}: {}", config_.ns, config_.name,
                      current.status().toString());
      return false;
    }
    observe("", "");  // absent: free since first seen so
    if (clock_.now() < observedAt_ + deference) return false;
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.name}, {"namespace", config_.ns}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", leaseSeconds},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    auto created = client_.create(kube::resources::kLeases, config_.ns, lease);
    if (!created) return false;  // someone else created it first
    lastLease_ = *created;
    observe(config_.identity, now);
    return true;
  }
  Json lease = *current;
  Json& spec = lease["spec"];
  std::string holder = spec.value("holderIdentity", "");
  std::string renewTime = spec.value("renewTime", "");
  observe(holder, renewTime);
  bool mine = holder == config_.identity;
  if (!mine) {
    // Free once its holder's lease ran out unrenewed (at once when released), plus our deference.
    Clock::Duration heldFor =
        std::chrono::seconds(holder.empty() ? 0 : spec.value("leaseDurationSeconds", leaseSeconds));
    if (clock_.now() < observedAt_ + heldFor + deference) return false;
  }
  if (!mine) {
    // A request to give the Lease up was for its previous holder.
    if (lease.contains("/metadata/annotations"_json_pointer))
      lease["metadata"]["annotations"].erase(kLeaseWantedByAnnotation);
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = leaseSeconds;
  spec["renewTime"] = now;
  auto updated = client_.update(kube::resources::kLeases, lease);
  if (!updated) {
    if (updated.status().code() != StatusCode::kConflict) {
      SLUICE_LOG_WARN("leader election: writing Lease {}/{}: {}", config_.ns, config_.name,
                      updated.status().toString());
    }
    return false;
  }
  lastLease_ = *updated;
  observe(config_.identity, now);
  return true;
}

std::string LeaderElector::wantedBy() const {
  return lastLease_.is_object() ? lastLease_.value("/metadata/annotations"_json_pointer, Json::object())
                                      .value(kLeaseWantedByAnnotation, std::string())
                                : std::string();
}

void LeaderElector::release() {
  if (lastLease_.is_null()) return;
  Json lease = lastLease_;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = nowMicroTime();
  auto released = client_.update(kube::resources::kLeases, lease);
  if (released) {
    SLUICE_LOG_INFO("leader election: released Lease {}/{}", config_.ns, config_.name);
  } else {
    SLUICE_LOG_WARN("leader election: releasing Lease {}/{}: {}", config_.ns, config_.name,
                    released.status().toString());
  }
}

bool LeaderElector::run(std::stop_token stop, const std::function<void(std::stop_token)>& onStartedLeading) {
  SLUICE_LOG_INFO("leader election: {} campaigning for Lease {}/{}", config_.identity, config_.ns, config_.name);
  while (!stop.stop_requested()) {
    if (tryAcquireOrRenew()) break;
    clock_.sleepFor(config_.retryPeriod, stop);
  }
  if (stop.stop_requested()) return false;

  leading_ = true;
  SLUICE_LOG_INFO("leader election: {} became the leader", config_.identity);
  std::stop_source leadership;
  std::jthread leader([&] { onStartedLeading(leadership.get_token()); });

  auto lastRenew = clock_.now();
  bool lost = false;
  while (clock_.sleepFor(config_.retryPeriod, stop)) {
    if (tryAcquireOrRenew()) {
      lastRenew = clock_.now();
    } else if (clock_.now() - lastRenew >= config_.renewDeadline) {
      lost = true;
      break;
    }
  }
  leading_ = false;
  leadership.request_stop();
  leader.join();
  if (lost) {
    SLUICE_LOG_ERROR("leader election: {} lost the Lease (no renewal for {} s)", config_.identity,
                     std::chrono::duration_cast<std::chrono::seconds>(config_.renewDeadline).count());
  } else {
    release();
  }
  return true;
}

}  // namespace sluice::reconcile
