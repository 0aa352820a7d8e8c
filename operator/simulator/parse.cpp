// Parsing of the simulator's inputs: TRACE.json and FUNCTION.yaml.
#include <cmath>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "simulator/simulator.h"

namespace sluice::simulator {

namespace {

Result<double> jsonNumber(const nlohmann::json& doc, const std::string& key, std::optional<double> fallback,
                          double minimum) {
  const std::string path = "trace." + key;
  if (!doc.contains(key)) {
    if (fallback) return *fallback;
    return invalidArgument(path + ": missing");
  }
  const nlohmann::json& value = doc.at(key);
  if (!value.is_number()) return invalidArgument(path + ": " + value.dump() + " is not a number");
  double number = value.get<double>();
  if (!std::isfinite(number) || number < minimum) {
    return invalidArgument(path + ": " + value.dump() + " is below " + nlohmann::json(minimum).dump());
  }
  return number;
}

}  // namespace

Result<Trace> parseTrace(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return invalidArgument(std::string("trace: not JSON: ") + e.what());
  }
  if (!doc.is_object()) return invalidArgument("trace: expected a JSON object");
  Trace trace;
  Result<double> rate = jsonNumber(doc, "service_rate_per_replica", std::nullopt, 0);
  if (!rate.isOk()) return rate.status();
  if (*rate <= 0) return invalidArgument("trace.service_rate_per_replica: must be positive");
  trace.serviceRatePerReplica = *rate;
  Result<double> cold = jsonNumber(doc, "cold_start_seconds", std::nullopt, 0);
  if (!cold.isOk()) return cold.status();
  trace.coldStartSeconds = *cold;
  Result<double> warm = jsonNumber(doc, "warm_start_seconds", *cold, 0);
  if (!warm.isOk()) return warm.status();
  trace.warmStartSeconds = *warm;
  Result<double> pool = jsonNumber(doc, "warm_pool", 0.0, 0);
  if (!pool.isOk()) return pool.status();
  trace.warmPool = static_cast<int>(*pool);
  Result<double> partitions = jsonNumber(doc, "partitions", 0.0, 0);
  if (!partitions.isOk()) return partitions.status();
  trace.partitions = static_cast<int>(*partitions);
  if (!doc.contains("arrivals")) return invalidArgument("trace.arrivals: missing");
  const nlohmann::json& arrivals = doc.at("arrivals");
  if (!arrivals.is_array() || arrivals.empty()) return invalidArgument("trace.arrivals: expected a non-empty array");
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const std::string path = "trace.arrivals[" + std::to_string(i) + "]";
    if (!arrivals[i].is_number()) return invalidArgument(path + ": " + arrivals[i].dump() + " is not a number");
    double a = arrivals[i].get<double>();
    if (!std::isfinite(a) || a < 0) return invalidArgument(path + ": " + arrivals[i].dump() + " is negative");
    trace.arrivals.push_back(a);
  }
  return trace;
}

namespace {

// Reads an optional scalar at node[key]; errors name the full field path.
template <typename T>
Status readScalar(const YAML::Node& node, const std::string& key, const std::string& path, T& out) {
  YAML::Node value = node[key];
  if (!value) return Status::ok();
  if (!value.IsScalar()) return invalidArgument(path + "." + key + ": expected a scalar");
  try {
    out = value.as<T>();
  } catch (const YAML::Exception&) {
    return invalidArgument(path + "." + key + ": \"" + value.Scalar() + "\" is not " +
                           (std::is_same_v<T, bool>  ? "a boolean"
                            : std::is_same_v<T, int> ? "an integer"
                                                     : "a number"));
  }
  return Status::ok();
}

Status readBehavior(const YAML::Node& node, const std::string& path, autoscaler::ScalingDirectionBehavior& out) {
  if (!node) return Status::ok();
  if (!node.IsMap()) return invalidArgument(path + ": expected a mapping");
  if (Status s = readScalar(node, "stabilizationWindowSeconds", path, out.stabilizationWindowSeconds); !s.isOk()) {
    return s;
  }
  if (YAML::Node select = node["selectPolicy"]) {
    std::string v = select.IsScalar() ? select.Scalar() : "";
    if (v == "Max") {
      out.selectPolicy = autoscaler::SelectPolicy::kMax;
    } else if (v == "Min") {
      out.selectPolicy = autoscaler::SelectPolicy::kMin;
    } else if (v == "Disabled") {
      out.selectPolicy = autoscaler::SelectPolicy::kDisabled;
    } else {
      return invalidArgument(path + ".selectPolicy: \"" + v + "\" is not Max, Min or Disabled");
    }
  }
  if (YAML::Node policies = node["policies"]) {
    if (!policies.IsSequence()) return invalidArgument(path + ".policies: expected a list");
    out.policies.clear();
    for (size_t i = 0; i < policies.size(); ++i) {
      const std::string item = path + ".policies[" + std::to_string(i) + "]";
      autoscaler::ScalingRule rule;
      std::string type;
      if (Status s = readScalar(policies[i], "type", item, type); !s.isOk()) return s;
      if (type == "Pods") {
        rule.type = autoscaler::ScalingRule::Type::kPods;
      } else if (type == "Percent") {
        rule.type = autoscaler::ScalingRule::Type::kPercent;
      } else {
        return invalidArgument(item + ".type: \"" + type + "\" is not Pods or Percent");
      }
      if (Status s = readScalar(policies[i], "value", item, rule.value); !s.isOk()) return s;
      if (Status s = readScalar(policies[i], "periodSeconds", item, rule.periodSeconds); !s.isOk()) return s;
      out.policies.push_back(rule);
    }
  }
  return Status::ok();
}

Status readScaling(const YAML::Node& scaling, autoscaler::ScalingPolicy& p) {
  const std::string path = "spec.scaling";
  if (!scaling) return Status::ok();
  if (!scaling.IsMap()) return invalidArgument(path + ": expected a mapping");
  for (auto [key, field] : std::initializer_list<std::pair<const char*, int*>>{
           {"minReplicas", &p.minReplicas},
           {"maxReplicas", &p.maxReplicas},
           {"cooldownSeconds", &p.cooldownSeconds},
           {"pollingIntervalSeconds", &p.pollingIntervalSeconds},
           {"activationIntervalMilliseconds", &p.activationIntervalMilliseconds}}) {
    if (Status s = readScalar(scaling, key, path, *field); !s.isOk()) return s;
  }
  if (scaling["targetCPUUtilizationPercentage"]) {
    int cpu = 0;
    if (Status s = readScalar(scaling, "targetCPUUtilizationPercentage", path, cpu); !s.isOk()) return s;
    p.targetCPUUtilizationPercentage = cpu;
  }
  if (YAML::Node warm = scaling["warmPool"]) {
    // Either `warmPool: 2` or `warmPool: {size: 2}`.
    Status s = warm.IsMap() ? readScalar(warm, "size", path + ".warmPool", p.warmPool)
                            : readScalar(scaling, "warmPool", path, p.warmPool);
    if (!s.isOk()) return s;
  }
  if (YAML::Node behavior = scaling["behavior"]) {
    if (Status s = readBehavior(behavior["scaleUp"], path + ".behavior.scaleUp", p.scaleUp); !s.isOk()) return s;
    if (Status s = readBehavior(behavior["scaleDown"], path + ".behavior.scaleDown", p.scaleDown); !s.isOk()) {
      return s;
    }
  }
  if (YAML::Node fallback = scaling["fallback"]) {
    autoscaler::FallbackPolicy f;
    if (Status s = readScalar(fallback, "failureThreshold", path + ".fallback", f.failureThreshold); !s.isOk()) {
      return s;
    }
    if (Status s = readScalar(fallback, "replicas", path + ".fallback", f.replicas); !s.isOk()) return s;
    p.fallback = f;
  }
  if (YAML::Node burst = scaling["burst"]) {
    const std::string b = path + ".burst";
    if (Status s = readScalar(burst, "enabled", b, p.burst.enabled); !s.isOk()) return s;
    if (Status s = readScalar(burst, "windowSeconds", b, p.burst.windowSeconds); !s.isOk()) return s;
    if (Status s = readScalar(burst, "thresholdPercent", b, p.burst.thresholdPercent); !s.isOk()) return s;
    if (Status s = readScalar(burst, "holdSeconds", b, p.burst.holdSeconds); !s.isOk()) return s;
  }
  return Status::ok();
}

}  // namespace

Result<SimulatedFunction> parseFunction(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return invalidArgument(std::string("function: not YAML: ") + e.what());
  }
  SimulatedFunction function;
  bool sawFunction = false;
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap()) continue;
    std::string kind = doc["kind"] && doc["kind"].IsScalar() ? doc["kind"].Scalar() : "";
    YAML::Node spec = doc["spec"];
    if (kind == "Function") {
      std::string api = doc["apiVersion"] && doc["apiVersion"].IsScalar() ? doc["apiVersion"].Scalar() : "";
      if (api != "sluice.io/v1alpha1") {
        return invalidArgument("apiVersion: \"" + api + "\" is not sluice.io/v1alpha1");
      }
      sawFunction = true;
      if (spec && spec["scaling"]) {
        if (Status s = readScaling(spec["scaling"], function.policy); !s.isOk()) return s;
      }
      if (spec && spec["replicas"]) {
        int pinned = 0;
        if (Status s = readScalar(spec, "replicas", "spec", pinned); !s.isOk()) return s;
        function.policy.pause.pinnedReplicas = pinned;
      }
    } else if (kind == "Trigger" && spec) {
      // The per-replica target comes from the trigger's source.
      struct Source {
        const char* name;
        const char* target;
        const char* activation;
      };
      for (const Source& source : {Source{"kafka", "lagThreshold", "activationLagThreshold"},
                                   Source{"rabbitmq", "queueLength", "activationQueueLength"},
                                   Source{"objectStore", "targetObjectCount", "activationTargetObjectCount"}}) {
        YAML::Node node = spec[source.name];
        if (!node) continue;
        const std::string path = std::string("spec.") + source.name;
        if (Status s = readScalar(node, source.target, path, function.targetPerReplica); !s.isOk()) return s;
        if (function.targetPerReplica <= 0) return invalidArgument(path + "." + source.target + ": must be positive");
        if (Status s = readScalar(node, source.activation, path, function.activationThreshold); !s.isOk()) return s;
      }
    }
  }
  if (!sawFunction) return invalidArgument("kind: no Function document (sluice.io/v1alpha1) in the file");
  if (Status s = autoscaler::validateScalingPolicy(function.policy); !s.isOk()) {
    return invalidArgument("spec." + s.message());
  }
  return function;
}

Result<Policy> parsePolicy(const std::string& name) {
  if (name == "sluice") return Policy::kSluice;
  if (name == "keda-default") return Policy::kKedaDefault;
  if (name == "static-peak") return Policy::kStaticPeak;
  return invalidArgument("--policy: \"" + name + "\" is not sluice, keda-default or static-peak");
}

const char* policyName(Policy policy) {
  switch (policy) {
    case Policy::kSluice: return "sluice";
    case Policy::kKedaDefault: return "keda-default";
    case Policy::kStaticPeak: return "static-peak";
  }
  return "?";
}

}  // namespace sluice::simulator
