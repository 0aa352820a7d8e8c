#include "controllers/autoscaler/scaling_from_spec.h"

#include <climits>

namespace sluice::controllers {

using nlohmann::json;

namespace {

// An optional int32 at object[key]; `path` names the object in errors.
Status readInt(const json& object, const char* key, const std::string& path, int& out) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return Status::ok();
  const json& value = object[key];
  if (!value.is_number_integer()) {
    return invalidArgument(path + "." + key + ": " + value.dump() + " is not an integer");
  }
  long long number = value.get<long long>();
  if (number < INT_MIN || number > INT_MAX) {
    return invalidArgument(path + "." + key + ": " + value.dump() + " is out of range");
  }
  out = static_cast<int>(number);
  return Status::ok();
}

Status readObject(const json& parent, const char* key, const std::string& path, const json*& out) {
  out = nullptr;
  if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return Status::ok();
  if (!parent[key].is_object()) return invalidArgument(path + "." + key + ": expected an object");
  out = &parent[key];
  return Status::ok();
}

Status readBehavior(const json& scaling, const char* key, const std::string& path,
                    autoscaler::ScalingDirectionBehavior& out) {
  const json* behavior = nullptr;
  if (Status s = readObject(scaling, key, path, behavior); !s.isOk() || !behavior) return s;
  const std::string where = path + "." + key;
  if (Status s = readInt(*behavior, "stabilizationWindowSeconds", where, out.stabilizationWindowSeconds); !s.isOk()) {
    return s;
  }
  if (behavior->contains("selectPolicy")) {
    const json& select = (*behavior)["selectPolicy"];
    std::string v = select.is_string() ? select.get<std::string>() : select.dump();
    if (v == "Max") {
      out.selectPolicy = autoscaler::SelectPolicy::kMax;
    } else if (v == "Min") {
      out.selectPolicy = autoscaler::SelectPolicy::kMin;
    } else if (v == "Disabled") {
      out.selectPolicy = autoscaler::SelectPolicy::kDisabled;
    } else {
      return invalidArgument(where + ".selectPolicy: \"" + v + "\" is not Max, Min or Disabled");
    }
  }
  if (behavior->contains("policies")) {
    const json& policies = (*behavior)["policies"];
    if (!policies.is_array()) return invalidArgument(where + ".policies: expected a list");
    out.policies.clear();
    for (size_t i = 0; i < policies.size(); ++i) {
      const std::string item = where + ".policies[" + std::to_string(i) + "]";
      const json& p = policies[i];
      if (!p.is_object()) return invalidArgument(item + ": expected an object");
      autoscaler::ScalingRule rule;
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
      if (Status s = readInt(p, "periodSeconds", item, rule.periodSeconds); !s.isOk()) return s;
      out.policies.push_back(rule);
    }
  }
  return Status::ok();
}

}  // namespace

Result<autoscaler::ScalingPolicy> scalingPolicyFromFunction(const json& function) {
  autoscaler::ScalingPolicy policy;
  const json empty = json::object();
  const json& spec = function.is_object() && function.contains("spec") ? function["spec"] : empty;
  const std::string path = "spec.scaling";
  const json* scaling = nullptr;
  if (Status s = readObject(spec, "scaling", "spec", scaling); !s.isOk()) return s;
  if (scaling) {
    for (auto [key, field] : std::initializer_list<std::pair<const char*, int*>>{
             {"minReplicas", &policy.minReplicas},
             {"maxReplicas", &policy.maxReplicas},
             {"cooldownSeconds", &policy.cooldownSeconds},
             {"pollingIntervalSeconds", &policy.pollingIntervalSeconds}}) {
      if (Status s = readInt(*scaling, key, path, *field); !s.isOk()) return s;
    }
    if (scaling->contains("cpuTargetUtilization")) {
      int cpu = 0;
      if (Status s = readInt(*scaling, "cpuTargetUtilization", path, cpu); !s.isOk()) return s;
      policy.targetCPUUtilizationPercentage = cpu;
    }
    if (Status s = readBehavior(*scaling, "scaleUp", path, policy.scaleUp); !s.isOk()) return s;
    if (Status s = readBehavior(*scaling, "scaleDown", path, policy.scaleDown); !s.isOk()) return s;
    const json* burst = nullptr;
    if (Status s = readObject(*scaling, "burst", path, burst); !s.isOk()) return s;
    if (burst) {
      if (Status s = readInt(*burst, "windowSeconds", path + ".burst", policy.burst.windowSeconds); !s.isOk()) {
        return s;
      }
      if (Status s = readInt(*burst, "thresholdPercent", path + ".burst", policy.burst.thresholdPercent); !s.isOk()) {
        return s;
      }
    }
    const json* warm = nullptr;
    if (Status s = readObject(*scaling, "warmPool", path, warm); !s.isOk()) return s;
    if (warm) {
      if (Status s = readInt(*warm, "size", path + ".warmPool", policy.warmPool); !s.isOk()) return s;
    }
    const json* fallback = nullptr;
    if (Status s = readObject(*scaling, "fallback", path, fallback); !s.isOk()) return s;
    if (fallback) {
      autoscaler::FallbackPolicy f;
      if (Status s = readInt(*fallback, "failureThreshold", path + ".fallback", f.failureThreshold); !s.isOk()) {
        return s;
      }
      if (Status s = readInt(*fallback, "replicas", path + ".fallback", f.replicas); !s.isOk()) return s;
      policy.fallback = f;
    }
  }
  if (spec.contains("replicas") && !spec["replicas"].is_null()) {
    int pinned = 0;
    if (Status s = readInt(spec, "replicas", "spec", pinned); !s.isOk()) return s;
    if (pinned < 0) return invalidArgument("spec.replicas: " + std::to_string(pinned) + " is negative");
    policy.pause.pinnedReplicas = pinned;
  }
  if (Status s = autoscaler::validateScalingPolicy(policy); !s.isOk()) {
    // The validator names fields from scaling.* with HPA's behavior.* nesting;
    // the Function has scaleUp/scaleDown directly under spec.scaling.
    std::string message = s.message();
    if (auto at = message.find("scaling.behavior."); at != std::string::npos) message.erase(at + 8, 9);
    return invalidArgument("spec." + message);
  }
  return policy;
}

}  // namespace sluice::controllers
