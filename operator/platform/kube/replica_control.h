// ReplicaControl: how the operator talks to a replica's control endpoint
// (the runtime's ControlServer on the pod's port 8090): ask it to drain before
// it is deleted, hand a warm pod its function, deliver an event the operator
// generates (a cron tick). An interface so controllers are
// unit-tested without pods; HttpReplicaControl is the real one.
// Implementations are thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::platform {

class ReplicaControl {
 public:
  virtual ~ReplicaControl() = default;
  // POST /drain: the replica stops taking work and finishes what it has.
  virtual Status drain(const nlohmann::json& pod) = 0;
  // POST /specialize with the runtime configuration: a warm pod becomes the function's replica.
  virtual Status specialize(const nlohmann::json& pod, const std::string& configuration) = 0;
  // POST /invoke: the replica runs the event through its handler and outputs; OK once it has.
  virtual Status invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                        const std::string& body) = 0;
};

}  // namespace sluice::platform
