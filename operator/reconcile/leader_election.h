// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, with
// client-go's rules: a candidate takes the Lease when it is free or when its
// holder has not renewed it within leaseDuration (measured on our own Clock
// from when we last saw the record change, so clock skew between machines
// does not matter); the leader renews every retryPeriod and gives up when it
// could not renew for renewDeadline; on a graceful stop it releases the Lease
// (empty holder) so a standby takes over at its next retry. Writes use the
// Lease's resourceVersion, so two candidates can never both win.
//
// Thread-safety: run() is called from one thread; isLeader() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "common/clock.h"
#include "kube/resource_client.h"

namespace sluice::reconcile {

// On a Lease: the identity of a candidate that asks its holder to give it up
// (reconcile/shard_elector.h). Whoever takes the Lease next removes it.
inline constexpr const char* kLeaseWantedByAnnotation = "sluice.io/wanted-by";

struct LeaderElectionConfig {
  std::string ns;
  std::string name;
  std::string identity;  // unique per process, e.g. "<hostname>_<pid>"
  Clock::Duration leaseDuration = std::chrono::seconds(15);
  Clock::Duration renewDeadline = std::chrono::seconds(10);
  Clock::Duration retryPeriod = std::chrono::seconds(2);
};

class LeaderElector {
 public:
  LeaderElector(kube::ResourceClient& client, LeaderElectionConfig config, Clock& clock);

  // Campaigns until elected, then calls onStartedLeading on a new thread with a
  // stop_token that fires when leadership ends; renews until `stop` or until
  // renewal fails for renewDeadline. Returns after onStartedLeading has
  // returned and (on a graceful stop) the Lease was released. Returns true if
  // it ever led.
  bool run(std::stop_token stop, const std::function<void(std::stop_token)>& onStartedLeading);

  bool isLeader() const { return leading_.load(); }
  const LeaderElectionConfig& config() const { return config_; }

  // For callers that run their own loop over several Leases (ShardElector).
  // One attempt to acquire or renew; true when we hold the Lease afterwards.
  // `deference`: a Lease that is free (absent, released or expired) is taken
  // only once it has been seen free for this much longer, so candidates that
  // do not defer get it first.
  bool tryAcquireOrRenew(Clock::Duration deference = Clock::Duration::zero());
  // Gives up a Lease we hold (empty holder), so another candidate takes it at its next retry.
  void release();
  // The holder seen at the last attempt ("" when free or absent).
  const std::string& observedHolder() const { return observedHolder_; }
  // Who asks for the Lease (kLeaseWantedByAnnotation) as of our last write; "" when nobody.
  std::string wantedBy() const;

 private:
  // Notes a change of the record (holder, renewTime) and when we saw it.
  void observe(const std::string& holder, const std::string& renewTime);
  std::string nowMicroTime() const;

  kube::ResourceClient& client_;
  const LeaderElectionConfig config_;
  Clock& clock_;
  std::atomic<bool> leading_{false};

  // What we last saw of someone else's record, and when (our clock).
  bool observed_ = false;  // the first attempt always notes its time
  std::string observedHolder_;
  std::string observedRenewTime_;
  Clock::TimePoint observedAt_{};
  kube::Json lastLease_;  // our last written Lease (for release)
};

}  // namespace sluice::reconcile
