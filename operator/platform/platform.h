// Platform: where a Function's replicas run. The autoscaler decides how many
// (status.desiredReplicas, written through a ResourceClient) and the spec
// renderer decides what they run (the runtime configuration); a Platform only
// makes that many replicas of that configuration exist:
//   - kube:  pods through the apiserver — the FunctionController and the
//            WarmPoolController (operator/controllers/), which the Manager runs;
//   - local: child `sluice-runtime` processes on this machine (LocalPlatform),
//            which `sluice-operator --local` runs.
// Both read the same Function objects, the same desired count
// (FunctionController::desiredReplicas) and the same rendered configuration,
// so neither the autoscaler nor the renderer knows which one runs.
// Implementations are thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::platform {

// What one Function needs from the platform now.
struct ReplicaSpec {
  std::string key;               // "namespace/name"
  nlohmann::json configuration;  // the runtime configuration, code inside (codeFiles)
  int desired = 0;
  bool adoptable = true;  // a warm (unspecialized) replica may take this configuration
};

// What the platform has for a Function now.
struct ReplicaCounts {
  int desired = 0;
  int ready = 0;     // serving
  int starting = 0;  // started or specialized, not ready yet
  int draining = 0;  // finishing their work before they exit
  int restarts = 0;  // replicas that died on their own and were replaced
  friend bool operator==(const ReplicaCounts&, const ReplicaCounts&) = default;
};

class Platform {
 public:
  virtual ~Platform() = default;
  // Level-triggered: call again whenever anything may have changed. A changed
  // configuration replaces the replicas (drain old, start new).
  virtual Status apply(const ReplicaSpec& spec) = 0;
  // The Function is gone: drain all its replicas.
  virtual void forget(const std::string& key) = 0;
  virtual ReplicaCounts counts(const std::string& key) const = 0;
};

}  // namespace sluice::platform
