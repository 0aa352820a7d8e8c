#include "api/v1alpha1/scaling.h"

#include "api/v1alpha1/fields.h"

namespace sluice::api::v1alpha1 {

using nlohmann::json;

namespace {

Status readSelectPolicy(const json& behavior, const std::string& path, autoscaler::SelectPolicy& out) {
  if (!hasField(behavior, "selectPolicy")) return Status::ok();
  const json& select = behavior["selectPolicy"];
  std::string v = select.is_string() ? select.get<std::string>() : select.dump();
  if (v == "Max") {
    out = autoscaler::SelectPolicy::kMax;
  } else if (v == "Min") {
    out = autoscaler::SelectPolicy::kMin;
  } else if (v == "Disabled") {
    out = autoscaler::SelectPolicy::kDisabled;
  } else {
    return invalidArgument(path + ".selectPolicy: \"" + v + "\" is not Max, Min or Disabled");
  }
  return Status::ok();
}

Status readRule(const json& p, const std::string& item, autoscaler::ScalingRule& rule) {
  if (!p.is_object()) return invalidArgument(item + ": expected an object");
  std::string type = p.contains("type") && p["type"].is_string() ? p["type"].get<std::string>() : "";
  if (type == "Pods") {
    rule.type = autoscaler::ScalingRule::Type::kPods;
  } else if (type == "Percent") {
    rule.type = autoscaler::ScalingRule::Type::kPercent;
  } else {
    return invalidArgument(item + ".type: " + (p.contains("type") ? p["type"].dump() : std::string("missing")) +
                           " is not Pods or Percent");
  }
  if (Status s = readInt(p, "value", item, rule.value); !s.isOk()) return s;
  return readInt(p, "periodSeconds", item, rule.periodSeconds);
}

Status readBehavior(const json& parent, const char* key, const std::string& path,
                    autoscaler::ScalingDirectionBehavior& out) {
  const json* behavior = nullptr;
  if (Status s = readObject(parent, key, path, behavior); !s.isOk() || !behavior) return s;
  const std::string where = path + "." + key;
  if (Status s = readInt(*behavior, "stabilizationWindowSeconds", where, out.stabilizationWindowSeconds); !s.isOk()) {
    return s;
  }
  if (Status s = readSelectPolicy(*behavior, where, out.selectPolicy); !s.isOk()) return s;
  if (!hasField(*behavior, "policies")) return Status::ok();
  const json& policies = (*behavior)["policies"];
  if (!policies.is_array()) return invalidArgument(where + ".policies: expected a list");
  out.policies.clear();
  for (size_t i = 0; i < policies.size(); ++i) {
    autoscaler::ScalingRule rule;
    if (Status s = readRule(policies[i], where + ".policies[" + std::to_string(i) + "]", rule); !s.isOk()) return s;
    out.policies.push_back(rule);
  }
  return Status::ok();
}

// scaleUp/scaleDown directly under spec.scaling (the CRD), or under
// behavior (HPA's nesting, which what-if runs may use).
Status readBehaviors(const json& scaling, const std::string& path, autoscaler::ScalingPolicy& policy) {
  if (Status s = readBehavior(scaling, "scaleUp", path, policy.scaleUp); !s.isOk()) return s;
  if (Status s = readBehavior(scaling, "scaleDown", path, policy.scaleDown); !s.isOk()) return s;
  const json* behavior = nullptr;
  if (Status s = readObject(scaling, "behavior", path, behavior); !s.isOk() || !behavior) return s;
  if (Status s = readBehavior(*behavior, "scaleUp", path + ".behavior", policy.scaleUp); !s.isOk()) return s;
  return readBehavior(*behavior, "scaleDown", path + ".behavior", policy.scaleDown);
}

Status readCpuTarget(const json& scaling, const std::string& path, autoscaler::ScalingPolicy& policy) {
  for (const char* key : {"cpuTargetUtilization", "targetCPUUtilizationPercentage"}) {
    if (!hasField(scaling, key)) continue;
    int cpu = 0;
    if (Status s = readInt(scaling, key, path, cpu); !s.isOk()) return s;
    policy.targetCPUUtilizationPercentage = cpu;
  }
  return Status::ok();
}

Status readBurst(const json& scaling, const std::string& path, autoscaler::BurstPolicy& burst) {
  const json* object = nullptr;
  if (Status s = readObject(scaling, "burst", path, object); !s.isOk() || !object) return s;
  const std::string where = path + ".burst";
  if (Status s = readBool(*object, "enabled", where, burst.enabled); !s.isOk()) return s;
  if (Status s = readInt(*object, "windowSeconds", where, burst.windowSeconds); !s.isOk()) return s;
  if (Status s = readInt(*object, "thresholdPercent", where, burst.thresholdPercent); !s.isOk()) return s;
  if (Status s = readInt(*object, "stableWindowSeconds", where, burst.stableWindowSeconds); !s.isOk()) return s;
  return readInt(*object, "holdSeconds", where, burst.holdSeconds);
}

// `warmPool: {size: N}` (the CRD) or `warmPool: N`.
Status readWarmPool(const json& scaling, const std::string& path, int& size) {
  if (hasField(scaling, "warmPool") && !scaling["warmPool"].is_object())
    return readInt(scaling, "warmPool", path, size);
  const json* warm = nullptr;
  if (Status s = readObject(scaling, "warmPool", path, warm); !s.isOk() || !warm) return s;
  return readInt(*warm, "size", path + ".warmPool", size);
}

Status readFallback(const json& scaling, const std::string& path, std::optional<autoscaler::FallbackPolicy>& out) {
  const json* fallback = nullptr;
  if (Status s = readObject(scaling, "fallback", path, fallback); !s.isOk() || !fallback) return s;
  autoscaler::FallbackPolicy f;
  if (Status s = readInt(*fallback, "failureThreshold", path + ".fallback", f.failureThreshold); !s.isOk()) return s;
  if (Status s = readInt(*fallback, "replicas", path + ".fallback", f.replicas); !s.isOk()) return s;
  out = f;
  return Status::ok();
}

// `policy: backlog|rate` and the rate policy's drainTargetSeconds.
Status readMode(const json& scaling, const std::string& path, autoscaler::ScalingPolicy& policy) {
  if (hasField(scaling, "policy")) {
    const json& mode = scaling["policy"];
    const std::string v = mode.is_string() ? mode.get<std::string>() : mode.dump();
    if (v == "backlog") {
      policy.mode = autoscaler::ScalingMode::kBacklog;
    } else if (v == "rate") {
      policy.mode = autoscaler::ScalingMode::kRate;
    } else {
      return invalidArgument(path + ".policy: \"" + v + "\" is not backlog or rate");
    }
  }
  return readInt(scaling, "drainTargetSeconds", path, policy.drainTargetSeconds);
}

Status readScaling(const json& scaling, autoscaler::ScalingPolicy& policy) {
  const std::string path = "spec.scaling";
  if (Status s = readMode(scaling, path, policy); !s.isOk()) return s;
  for (auto [key, field] : std::initializer_list<std::pair<const char*, int*>>{
           {"minReplicas", &policy.minReplicas},
           {"maxReplicas", &policy.maxReplicas},
           {"pollingIntervalSeconds", &policy.pollingIntervalSeconds},
           {"activationIntervalMilliseconds", &policy.activationIntervalMilliseconds}}) {
    if (Status s = readInt(scaling, key, path, *field); !s.isOk()) return s;
  }
  if (hasField(scaling, "cooldownSeconds")) {
    int cooldown = 0;
    if (Status s = readInt(scaling, "cooldownSeconds", path, cooldown); !s.isOk()) return s;
    policy.cooldownSeconds = cooldown;
  }
  if (Status s = readCpuTarget(scaling, path, policy); !s.isOk()) return s;
  if (Status s = readBehaviors(scaling, path, policy); !s.isOk()) return s;
  if (Status s = readBurst(scaling, path, policy.burst); !s.isOk()) return s;
  if (Status s = readWarmPool(scaling, path, policy.warmPool); !s.isOk()) return s;
  return readFallback(scaling, path, policy.fallback);
}

}  // namespace

Result<autoscaler::ScalingPolicy> scalingPolicyFromSpec(const json& spec) {
  autoscaler::ScalingPolicy policy;
  const json* scaling = nullptr;
  if (Status s = readObject(spec, "scaling", "spec", scaling); !s.isOk()) return s;
  if (scaling) {
    if (Status s = readScaling(*scaling, policy); !s.isOk()) return s;
  }
  if (hasField(spec, "replicas")) {
    int pinned = 0;
    if (Status s = readInt(spec, "replicas", "spec", pinned); !s.isOk()) return s;
    if (pinned < 0) return invalidArgument("spec.replicas: " + std::to_string(pinned) + " is negative");
    policy.pause.pinnedReplicas = pinned;
  }
  if (Status s = autoscaler::validateScalingPolicy(policy); !s.isOk()) {
    // The validator names fields with HPA's behavior.* nesting; a Function
    // written as the CRD has scaleUp/scaleDown directly under spec.scaling.
    std::string message = s.message();
    const bool hpaNesting = scaling && hasField(*scaling, "behavior");
    if (auto at = message.find("scaling.behavior."); at != std::string::npos && !hpaNesting) message.erase(at + 8, 9);
    return invalidArgument("spec." + message);
  }
  return policy;
}

}  // namespace sluice::api::v1alpha1
