#include "platform/replica_plan.h"

#include <algorithm>
#include <tuple>

namespace sluice::platform {
namespace {

bool upToDate(const ReplicaPod& pod, const std::string& currentHash) {
  return pod.templateHash == currentHash && !pod.stale;
}

// Orders pods most-expendable first.
bool moreExpendable(const ReplicaPod& a, const ReplicaPod& b, const std::string& currentHash) {
  auto key = [&](const ReplicaPod& p) {
    return std::make_tuple(p.scheduled, p.ready, upToDate(p, currentHash), p.inFlight);
  };
  if (key(a) != key(b)) return key(a) < key(b);
  if (a.created != b.created) return a.created > b.created;  // newest goes first: it holds the least warm state
  return a.name < b.name;
}

}  // namespace

const char* removalReasonName(RemovalReason reason) {
  switch (reason) {
    case RemovalReason::kFailed: return "Failed";
    case RemovalReason::kScaleDown: return "ScaleDown";
    case RemovalReason::kReplaced: return "Replaced";
  }
  return "Unknown";
}

ReplicaPlan planReplicas(const ReplicaPlanInput& input) {
  ReplicaPlan plan;
  const int desired = std::max(0, input.desired);
  const std::string& hash = input.currentTemplateHash;

  std::vector<ReplicaPod> active;
  for (const ReplicaPod& pod : input.pods) {
    if (pod.terminating) continue;
    if (pod.failed) {
      plan.remove.push_back({pod.name, RemovalReason::kFailed});
      continue;
    }
    active.push_back(pod);
  }
  std::sort(active.begin(), active.end(),
            [&](const ReplicaPod& a, const ReplicaPod& b) { return moreExpendable(a, b, hash); });

  const int count = static_cast<int>(active.size());
  const int outdated = static_cast<int>(
      std::count_if(active.begin(), active.end(), [&](const ReplicaPod& p) { return !upToDate(p, hash); }));
  const bool upToDateAllReady =
      std::all_of(active.begin(), active.end(), [&](const ReplicaPod& p) { return !upToDate(p, hash) || p.ready; });

  auto addReplicas = [&](int needed) {
    plan.adopt = std::min(needed, std::max(0, input.warmAvailable));
    plan.create = needed - plan.adopt;
  };

  // During a replacement the one surge pod above `desired` is expected, not surplus.
  const bool surgeInProgress = outdated > 0 && desired > 0 && count == desired + 1;
  if (count < desired) {
    addReplicas(desired - count);
  } else if (count > desired && !surgeInProgress) {
    for (int i = 0; i < count - desired; ++i) plan.remove.push_back({active[i].name, RemovalReason::kScaleDown});
  } else if (outdated > 0 && desired > 0) {
    if (count == desired) {
      addReplicas(1);  // surge: one up-to-date pod before any old one goes
    } else if (upToDateAllReady) {
      auto victim = std::find_if(active.begin(), active.end(), [&](const ReplicaPod& p) { return !upToDate(p, hash); });
      plan.remove.push_back({victim->name, RemovalReason::kReplaced});
    } else {
      plan.rolloutWaiting = true;
    }
  }
  return plan;
}

}  // namespace sluice::platform
