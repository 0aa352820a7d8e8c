// A Function (sluice.io/v1alpha1) as typed values, for the readers that act
// on its scaling: the autoscaler, the scaler factory (CPU), the metrics and
// the simulator. The pod-shaping fields (code, env, pipeline, outputs, ...)
// stay JSON for the renderers in spec/ and platform/, which copy them into
// Kubernetes objects. Pure values; thread-safe.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "autoscaler/scaling_policy.h"
#include "common/status.h"

namespace sluice::api::v1alpha1 {

// The parts of metadata the operator reads (the apiserver's, so read leniently).
struct ObjectMeta {
  std::string name;
  std::string ns;
  std::string uid;
  long long generation = 0;
  bool deleting = false;  // deletionTimestamp set
  static ObjectMeta of(const nlohmann::json& object);
};

struct FunctionStatus {
  std::optional<int> desiredReplicas;  // the autoscaler's word, once said
  int replicas = 0;
  int readyReplicas = 0;
  // The image a ready replica runs the Function's code from, as its kubelet reports it (imageID);
  // "" until one is ready.
  std::string imageDigest;
};

struct Function {
  ObjectMeta metadata;
  // spec.scaling and spec.replicas (scalingPolicyFromSpec), with the CRD's defaults.
  autoscaler::ScalingPolicy scaling;
  // spec.resources.requests.cpu as written ("500m", 2, ...); CPU utilization is relative to it.
  nlohmann::json cpuRequest;
  // spec.scaling.warmPool.size as written: unset means the operator's default.
  std::optional<int> warmPool;
  FunctionStatus status;

  // Errors name the field ("spec.scaling.maxReplicas: \"x\" is not an integer").
  static Result<Function> fromJson(const nlohmann::json& function);

  // The replicas the Function asks for now (api::desiredReplicasFor).
  int desiredReplicas() const;
  // spec.scaling.warmPool.size, or `defaultSize` when unset.
  int warmPoolSize(int defaultSize) const;
  // Whether spec.scaling.cpuTargetUtilization asks for CPU-based scaling.
  bool scalesOnCpu() const { return scaling.targetCPUUtilizationPercentage.has_value(); }
};

}  // namespace sluice::api::v1alpha1
