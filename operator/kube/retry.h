// retryOnConflict: the read-modify-write loop for optimistic concurrency.
// `attempt` re-reads the object, changes it and writes it; a kConflict (stale
// resourceVersion) runs it again, up to `maxAttempts`. Stateless.
#pragma once

#include <functional>

#include "common/status.h"

namespace sluice::kube {

inline Status retryOnConflict(const std::function<Status()>& attempt, int maxAttempts = 5) {
  Status status;
  for (int i = 0; i < maxAttempts; ++i) {
    status = attempt();
    if (status.code() != StatusCode::kConflict) return status;
  }
  return status;
}

}  // namespace sluice::kube
