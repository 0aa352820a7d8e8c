// Parsing of the simulator's inputs: TRACE.json and FUNCTION.yaml.
#include <cmath>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/scaling.h"
#include "api/v1alpha1/trigger.h"
#include "common/yaml.h"
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

Result<SimulatedFunction> parseFunction(const std::string& text) {
  Result<std::vector<YamlDocument>> docs = parseYamlDocuments(text);
  if (!docs.isOk()) return invalidArgument("function: not YAML: " + docs.status().message());
  SimulatedFunction function;
  bool sawFunction = false;
  double concurrency = 1;  // spec.concurrency: an http Trigger's default targetConcurrency
  for (const YamlDocument& document : *docs) {
    const nlohmann::json& doc = document.value;
    if (!doc.is_object()) continue;
    const std::string kind = doc.value("kind", nlohmann::json()).is_string() ? doc["kind"].get<std::string>() : "";
    const nlohmann::json spec = doc.value("spec", nlohmann::json::object());
    if (kind == "Function") {
      std::string api =
          doc.contains("apiVersion") && doc["apiVersion"].is_string() ? doc["apiVersion"].get<std::string>() : "";
      if (api != "sluice.io/v1alpha1") return invalidArgument("apiVersion: \"" + api + "\" is not sluice.io/v1alpha1");
      sawFunction = true;
      // The operator's own reader: what the simulator runs is what the autoscaler would.
      Result<autoscaler::ScalingPolicy> policy = api::v1alpha1::scalingPolicyFromSpec(spec);
      if (!policy.isOk()) return policy.status();
      function.policy = std::move(*policy);
      if (spec.contains("concurrency") && spec["concurrency"].is_number())
        concurrency = spec["concurrency"].get<double>();
    } else if (kind == "Trigger") {
      // The per-replica target comes from the trigger's source.
      Result<std::optional<api::v1alpha1::ScalingTarget>> target = api::v1alpha1::scalingTargetOf(spec);
      if (!target.isOk()) return target.status();
      if (*target) {
        function.targetPerReplica = static_cast<double>((*target)->perReplica);
        function.activationThreshold = static_cast<double>((*target)->activation);
      }
      Result<std::optional<api::v1alpha1::HttpScalingTarget>> http = api::v1alpha1::httpScalingTargetOf(spec);
      if (!http.isOk()) return http.status();
      if (*http) {
        const bool rate = (*http)->metric == api::v1alpha1::HttpScalingTarget::Metric::kRequestsPerSecond;
        function.metric = rate ? SimulatedMetric::kHttpRequestsPerSecond : SimulatedMetric::kHttpConcurrency;
        // Unset targetConcurrency: the Function's spec.concurrency (read below, once every document is seen).
        function.targetPerReplica = (*http)->perReplica;
        function.activationThreshold = 0;
      }
    }
  }
  if (!sawFunction) return invalidArgument("kind: no Function document (sluice.io/v1alpha1) in the file");
  if (function.metric == SimulatedMetric::kHttpConcurrency && function.targetPerReplica == 0) {
    function.targetPerReplica = concurrency;
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
