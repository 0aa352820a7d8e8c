#include "cli/cluster.h"

#include <algorithm>
#include <sstream>

#include "cli/history.h"
#include "spec/resources.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

int applyOrder(const json& object) {
  const std::string kind = object.value("kind", std::string());
  return kind == "Function" ? 1 : kind == "Trigger" ? 2 : 0;
}

std::string namespaceOf(const json& object, const std::string& fallback) {
  std::string ns = object.value("/metadata/namespace"_json_pointer, std::string());
  return ns.empty() ? fallback : ns;
}

std::string nameOf(const json& object) { return object.value("/metadata/name"_json_pointer, std::string()); }

json row(const std::string& kind, const std::string& ns, const std::string& name, const std::string& result) {
  return {{"kind", kind}, {"namespace", ns}, {"name", name}, {"result", result}};
}

Result<json> applyOne(kube::ResourceClient& client, json object, const std::string& defaultNamespace, bool force) {
  const std::string kind = object.value("kind", std::string());
  auto type = resourceTypeOf(kind);
  if (!type.isOk()) return type.status();
  const std::string ns = namespaceOf(object, defaultNamespace);
  const std::string name = nameOf(object);
  object["metadata"]["namespace"] = ns;
  object.erase("status");
  const std::string what = kind + " " + ns + "/" + name;
  auto before = client.get(*type, ns, name);
  if (!before.isOk() && before.status().code() != StatusCode::kNotFound) return before.status().withContext(what);
  auto after = client.apply(*type, object, kFieldManager, force);
  if (!after.isOk()) return after.status().withContext(what);
  std::string result = "created";
  if (before.isOk()) {
    result = before->value("/metadata/resourceVersion"_json_pointer, std::string()) ==
                     after->value("/metadata/resourceVersion"_json_pointer, std::string())
                 ? "unchanged"
                 : "configured";
  }
  return row(kind, ns, name, result);
}

// A replica count of the status, or null when the operator has not written it (not "0 replicas").
json count(const json& status, const char* field) {
  return status.contains(field) && status[field].is_number_integer() ? status[field] : json();
}

// A count as text: "-" when unknown.
std::string shown(const json& value) { return value.is_null() ? "-" : value.dump(); }

json condition(const json& c) {
  return {{"type", c.value("type", "")},
          {"status", c.value("status", "")},
          {"reason", c.value("reason", "")},
          {"message", c.value("message", "")},
          {"lastTransitionTime", c.value("lastTransitionTime", "")}};
}

// The source key a Trigger names (kafka, http, cron, ...), as its status.sourceType would say.
std::string triggerType(const json& trigger) {
  std::string type = trigger.value("/status/sourceType"_json_pointer, std::string());
  if (!type.empty()) return type;
  for (const char* key : {"kafka", "rabbitmq", "cron", "http", "objectStore", "prometheus"}) {
    if (trigger.contains("spec") && trigger["spec"].contains(key)) return key;
  }
  return "";
}

Result<json> triggersOf(kube::ResourceClient& client, const std::string& ns, const std::string& name) {
  auto triggers = client.list(spec::kTriggers, ns, {});
  if (!triggers.isOk()) return triggers.status().withContext("listing Triggers in " + ns);
  json out = json::array();
  for (const json& t : triggers->value("items", json::array())) {
    if (t.value("/spec/functionRef/name"_json_pointer, std::string()) != name) continue;
    const json metric = t.value("/status/metricValue"_json_pointer, json());
    out.push_back({{"name", nameOf(t)},
                   {"type", triggerType(t)},
                   {"metric", metric.is_null()     ? json("")
                              : metric.is_string() ? metric
                                                   : json(metric.dump())},
                   {"active", t.value("/status/active"_json_pointer, false)}});
  }
  return out;
}

Result<json> eventsOf(kube::ResourceClient& client, const std::string& ns, const std::string& name, int maxEvents) {
  kube::ListOptions options;
  options.fieldSelector = "involvedObject.kind=Function,involvedObject.name=" + name;
  auto events = client.list(kube::resources::kEvents, ns, options);
  if (!events.isOk()) return events.status().withContext("listing Events in " + ns);
  std::vector<json> items;
  for (const json& e : events->value("items", json::array())) {
    std::string at = e.value("lastTimestamp", json("")).is_string() ? e.value("lastTimestamp", std::string()) : "";
    if (at.empty()) at = e.value("eventTime", json("")).is_string() ? e.value("eventTime", std::string()) : "";
    items.push_back({{"type", e.value("type", "")},
                     {"reason", e.value("reason", "")},
                     {"message", e.value("message", "")},
                     {"count", e.value("count", 1)},
                     {"lastTimestamp", at}});
  }
  std::stable_sort(items.begin(), items.end(), [](const json& a, const json& b) {
    return a["lastTimestamp"].get<std::string>() < b["lastTimestamp"].get<std::string>();
  });
  if (static_cast<int>(items.size()) > maxEvents) items.erase(items.begin(), items.end() - maxEvents);
  return json(items);
}

}  // namespace

Result<kube::ResourceType> resourceTypeOf(const std::string& kind) {
  if (kind == "Function") return spec::kFunctions;
  if (kind == "Trigger") return spec::kTriggers;
  if (kind == "Secret") return kube::resources::kSecrets;
  if (kind == "ConfigMap") return kube::resources::kConfigMaps;
  return invalidArgument("kind: \"" + kind + "\": sluice takes Function, Trigger, Secret and ConfigMap");
}

Result<json> applyObjects(kube::ResourceClient& client, std::vector<json> objects, const std::string& defaultNamespace,
                          bool forceConflicts) {
  std::stable_sort(objects.begin(), objects.end(),
                   [](const json& a, const json& b) { return applyOrder(a) < applyOrder(b); });
  json out = json::array();
  for (json& object : objects) {
    auto applied = applyOne(client, std::move(object), defaultNamespace, forceConflicts);
    if (!applied.isOk()) return applied.status();
    out.push_back(*applied);
  }
  return out;
}

Result<json> deleteFunction(kube::ResourceClient& client, const std::string& ns, const std::string& name) {
  const std::string what = "Function " + ns + "/" + name;
  auto function = client.get(spec::kFunctions, ns, name);
  if (!function.isOk()) {
    if (function.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, what + " not found");
    return function.status().withContext(what);
  }
  auto triggers = triggersOf(client, ns, name);
  if (!triggers.isOk()) return triggers.status();
  json out = json::array();
  for (const json& t : *triggers) {
    const std::string trigger = t["name"].get<std::string>();
    Status removed = client.remove(spec::kTriggers, ns, trigger);
    if (!removed.isOk() && removed.code() != StatusCode::kNotFound) {
      return removed.withContext("Trigger " + ns + "/" + trigger);
    }
    out.push_back(row("Trigger", ns, trigger, "deleted"));
  }
  Status removed = client.remove(spec::kFunctions, ns, name);
  if (!removed.isOk()) return removed.withContext(what);
  out.push_back(row("Function", ns, name, "deleted"));
  return out;
}

Result<json> deleteObjects(kube::ResourceClient& client, const std::vector<json>& objects,
                           const std::string& defaultNamespace, bool ignoreNotFound) {
  json out = json::array();
  for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
    const std::string kind = it->value("kind", std::string());
    auto type = resourceTypeOf(kind);
    if (!type.isOk()) return type.status();
    const std::string ns = namespaceOf(*it, defaultNamespace);
    const std::string what = kind + " " + ns + "/" + nameOf(*it);
    Status removed = client.remove(*type, ns, nameOf(*it));
    if (removed.code() == StatusCode::kNotFound) {
      if (!ignoreNotFound) return Status(StatusCode::kNotFound, what + " not found");
      out.push_back(row(kind, ns, nameOf(*it), "not found"));
      continue;
    }
    if (!removed.isOk()) return removed.withContext(what);
    out.push_back(row(kind, ns, nameOf(*it), "deleted"));
  }
  return out;
}

Result<json> describeFunction(kube::ResourceClient& client, const std::string& ns, const std::string& name,
                              int maxEvents) {
  auto function = client.get(spec::kFunctions, ns, name);
  const std::string what = "Function " + ns + "/" + name;
  if (!function.isOk()) {
    if (function.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, what + " not found");
    return function.status().withContext(what);
  }
  const json status = function->value("status", json::object());
  json out = {{"name", name},
              {"namespace", ns},
              {"url", status.value("url", json("")).is_string() ? status.value("url", std::string()) : ""},
              {"runtime", function->value("/spec/runtime"_json_pointer, std::string())},
              {"replicas",
               {{"desired", count(status, "desiredReplicas")},
                {"current", count(status, "replicas")},
                {"ready", count(status, "readyReplicas")},
                {"warm", count(status, "warmReplicas")}}},
              {"conditions", json::array()}};
  for (const json& c : status.value("conditions", json::array())) out["conditions"].push_back(condition(c));
  auto triggers = triggersOf(client, ns, name);
  if (!triggers.isOk()) return triggers.status();
  out["triggers"] = *triggers;
  auto events = eventsOf(client, ns, name, maxEvents);
  if (!events.isOk()) return events.status();
  out["events"] = *events;
  return out;
}

std::string describeText(const json& d) {
  std::ostringstream out;
  out << "Name:       " << d["name"].get<std::string>() << "\nNamespace:  " << d["namespace"].get<std::string>()
      << "\nURL:        " << (d["url"].get<std::string>().empty() ? "<none>" : d["url"].get<std::string>())
      << "\nRuntime:    " << d["runtime"].get<std::string>() << "\nReplicas:   " << shown(d["replicas"]["desired"])
      << " desired, " << shown(d["replicas"]["current"]) << " current, " << shown(d["replicas"]["ready"]) << " ready, "
      << shown(d["replicas"]["warm"]) << " warm\nLast hour:  "
      << (d.contains("replicasLastHour")
              ? historyText(d["replicasLastHour"])
              : "- (--prometheus URL: the operator's /metrics holds only the current counts)")
      << "\nConditions:\n";
  if (d["conditions"].empty()) out << "  <none>\n";
  for (const json& c : d["conditions"]) {
    out << "  " << c["type"].get<std::string>() << "=" << c["status"].get<std::string>() << "  "
        << c["reason"].get<std::string>() << ": " << c["message"].get<std::string>() << "\n";
  }
  out << "Triggers:\n";
  if (d["triggers"].empty()) out << "  <none>\n";
  for (const json& t : d["triggers"]) {
    out << "  " << t["name"].get<std::string>() << "  type " << t["type"].get<std::string>() << "  metric "
        << (t["metric"].get<std::string>().empty() ? "-" : t["metric"].get<std::string>()) << "  active "
        << (t["active"].get<bool>() ? "true" : "false") << "\n";
  }
  out << "Events:\n";
  if (d["events"].empty()) out << "  <none>\n";
  for (const json& e : d["events"]) {
    out << "  " << e["lastTimestamp"].get<std::string>() << "  " << e["type"].get<std::string>() << "  "
        << e["reason"].get<std::string>() << " (x" << e["count"] << "): " << e["message"].get<std::string>() << "\n";
  }
  return out.str();
}

}  // namespace sluice::cli
