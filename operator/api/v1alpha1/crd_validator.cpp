#include "api/v1alpha1/crd_validator.h"

#include <cmath>
#include <set>

#include <re2/re2.h>

#include "api/v1alpha1/semantics.h"
#include "common/yaml.h"
#include "sluice/crds.h"

namespace sluice::api::v1alpha1 {

using nlohmann::json;

namespace {

int countPresent(const json& self, std::initializer_list<const char*> fields) {
  int n = 0;
  for (const char* field : fields) n += self.is_object() && self.contains(field) ? 1 : 0;
  return n;
}

bool has(const json& self, const char* field) { return self.is_object() && self.contains(field); }

std::string stringField(const json& self, const char* field) {
  return has(self, field) && self[field].is_string() ? self[field].get<std::string>() : std::string();
}

// Rule text with runs of white space collapsed: the CRD YAML folds long rules.
std::string normalizeRule(const std::string& rule) {
  std::string out;
  bool space = false;
  for (char c : rule) {
    if (c == ' ' || c == '\n' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The twins of the rules on pipeline steps: one operator each, parse's pattern, the mirror's options.
template <typename Add>
void addPipelineTwins(const Add& add) {
  add("(has(self.filter) ? 1 : 0) + (has(self.map) ? 1 : 0) + (has(self.project) ? 1 : 0) + (has(self.rename) ? 1 "
      ": 0) + (has(self.set) ? 1 : 0) + (has(self.mask) ? 1 : 0) + (has(self.parse) ? 1 : 0) + (has(self.decompress) "
      "? 1 : 0) + (has(self.route) ? 1 : 0) + (has(self.mirror) ? 1 : 0) == 1",
      [](const json& s) {
        return countPresent(s, {"filter", "map", "project", "rename", "set", "mask", "parse", "decompress", "route",
                                "mirror"}) == 1;
      });
  add("!has(self.parse) || !has(self.parse.format) || self.parse.format != 'regex' || has(self.parse.pattern)",
      [](const json& s) {
        if (!has(s, "parse") || !has(s["parse"], "format")) return true;
        return stringField(s["parse"], "format") != "regex" || has(s["parse"], "pattern");
      });
  add("!has(self.groups) || (has(self.rename) && self.rename != 'output')",
      [](const json& s) { return !has(s, "groups") || (has(s, "rename") && stringField(s, "rename") != "output"); });
  add("!has(self.prefix) || (has(self.rename) && self.rename == 'prefix')",
      [](const json& s) { return !has(s, "prefix") || stringField(s, "rename") == "prefix"; });
  add("!has(self.rename) || self.rename != 'prefix' || has(self.prefix) || has(self.sourceAlias)",
      [](const json& s) { return stringField(s, "rename") != "prefix" || has(s, "prefix") || has(s, "sourceAlias"); });
  add("has(self.sourceAlias) == has(self.targetAlias)",
      [](const json& s) { return has(s, "sourceAlias") == has(s, "targetAlias"); });
  add("!has(self.sourceAlias) || !has(self.targetAlias) || self.sourceAlias != self.targetAlias", [](const json& s) {
    return !has(s, "sourceAlias") || !has(s, "targetAlias") || s["sourceAlias"] != s["targetAlias"];
  });
}

// The twins of the rules on http triggers and their scaling (burst windows), and on queues.
template <typename Add>
void addHttpTwins(const Add& add) {
  add("!has(self.stableWindowSeconds) || !has(self.windowSeconds) || self.stableWindowSeconds >= self.windowSeconds",
      [](const json& s) {
        if (!has(s, "stableWindowSeconds") || !has(s, "windowSeconds")) return true;
        if (!s["stableWindowSeconds"].is_number() || !s["windowSeconds"].is_number()) return true;
        return s["stableWindowSeconds"].get<double>() >= s["windowSeconds"].get<double>();
      });
  add("!(has(self.targetConcurrency) && has(self.targetRequestsPerSecond))",
      [](const json& s) { return !(has(s, "targetConcurrency") && has(s, "targetRequestsPerSecond")); });
  add("!self.queue.startsWith('amq.')", [](const json& s) { return stringField(s, "queue").rfind("amq.", 0) != 0; });
  add("has(self.rabbitmq) != has(self.kafka)", [](const json& s) { return has(s, "rabbitmq") != has(s, "kafka"); });
  // Not http, but a queue's too: spec.rabbitmq binds routing keys only to a named exchange.
  add("!has(self.routingKeys) || has(self.exchange)",
      [](const json& s) { return !has(s, "routingKeys") || has(s, "exchange"); });
  // Any RabbitMQ connection's tls: a client certificate goes with its key.
  add("has(self.certKey) == has(self.keyKey)", [](const json& s) { return has(s, "certKey") == has(s, "keyKey"); });
}

// The twins of the rules on spec.protocol (docs/handler-images.md) and the code it needs.
template <typename Add>
void addProtocolTwins(const Add& add) {
  const auto protocol = [](const json& s) { return stringField(s, "protocol"); };
  add("self.runtime != 'python3.11' || has(self.code) || (has(self.protocol) && self.protocol == 'http')",
      [protocol](const json& s) {
        return stringField(s, "runtime") != "python3.11" || has(s, "code") || protocol(s) == "http";
      });
  add("!has(self.protocol) || has(self.image)", [](const json& s) { return !has(s, "protocol") || has(s, "image"); });
  add("!has(self.protocol) || self.runtime == 'python3.11'",
      [](const json& s) { return !has(s, "protocol") || stringField(s, "runtime") == "python3.11"; });
  add("!has(self.http) || (has(self.protocol) && self.protocol == 'http')",
      [protocol](const json& s) { return !has(s, "http") || protocol(s) == "http"; });
  add("!has(self.protocol) || self.protocol != 'http' || !has(self.code)",
      [protocol](const json& s) { return protocol(s) != "http" || !has(s, "code"); });
  add("!has(self.http) || !has(self.http.port) || (self.http.port != 8080 && self.http.port != 8090)",
      [](const json& s) {
        const json port = s.value("http", json::object()).value("port", json());
        return !port.is_number_integer() || (port.get<int64_t>() != 8080 && port.get<int64_t>() != 8090);
      });
}

// The twins of the rules on spec.pod: reserved label keys and the restricted Pod Security Standard.
void addPodTwins(const std::function<void(const std::string&, CrdValidator::Rule)>& add) {
  // Pod labels and annotations: the keys Sluice's selectors and pods rely on stay Sluice's.
  add("self.all(k, !k.startsWith('sluice.io/') && k != 'app.kubernetes.io/managed-by')", [](const json& s) {
    if (!s.is_object()) return true;
    for (const auto& [key, value] : s.items()) {
      if (key.rfind("sluice.io/", 0) == 0 || key == "app.kubernetes.io/managed-by") return false;
    }
    return true;
  });
  // Annotations that would loosen seccomp or AppArmor (the restricted Pod Security Standard).
  add("self.all(k, !k.startsWith('seccomp.security.alpha.kubernetes.io/') && "
      "!k.startsWith('container.seccomp.security.alpha.kubernetes.io/') && "
      "(!k.startsWith('container.apparmor.security.beta.kubernetes.io/') || self[k] == 'runtime/default' || "
      "self[k].startsWith('localhost/')))",
      [](const json& s) {
        if (!s.is_object()) return true;
        auto startsWith = [](const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; };
        for (const auto& [key, value] : s.items()) {
          if (startsWith(key, "seccomp.security.alpha.kubernetes.io/") ||
              startsWith(key, "container.seccomp.security.alpha.kubernetes.io/")) {
            return false;
          }
          if (!startsWith(key, "container.apparmor.security.beta.kubernetes.io/")) continue;
          const std::string profile = value.is_string() ? value.get<std::string>() : std::string();
          if (profile != "runtime/default" && !startsWith(profile, "localhost/")) return false;
        }
        return true;
      });
}

// The C++ twin of every CEL rule in crds/, keyed by the normalized rule text.
const std::map<std::string, CrdValidator::Rule>& celTwins() {
  static const std::map<std::string, CrdValidator::Rule> twins = [] {
    std::map<std::string, CrdValidator::Rule> t;
    auto add = [&t](const std::string& rule, CrdValidator::Rule twin) { t[normalizeRule(rule)] = std::move(twin); };
    add("(has(self.inline) ? 1 : 0) + (has(self.configMapRef) ? 1 : 0) + (has(self.image) ? 1 : 0) == 1",
        [](const json& s) {
          return countPresent(s, {"inline", "configMapRef", "image"}) == 1;
        });
    add("(has(self.kafka) ? 1 : 0) + (has(self.rabbitmq) ? 1 : 0) + (has(self.http) ? 1 : 0) + (has(self.s3) ? 1 : "
        "0) + (has(self.dir) ? 1 : 0) == 1",
        [](const json& s) {
          return countPresent(s, {"kafka", "rabbitmq", "http", "s3", "dir"}) == 1;
        });
    add("self.all(o, !has(o.name) || self.exists_one(p, has(p.name) && p.name == o.name))", [](const json& s) {
      std::set<json> seen;
      for (const json& o : s) {
        if (!has(o, "name")) continue;
        if (!seen.insert(o["name"]).second) return false;
      }
      return true;
    });
    add("!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas", [](const json& s) {
      if (!has(s, "minReplicas") || !has(s, "maxReplicas")) return true;
      if (!s["minReplicas"].is_number() || !s["maxReplicas"].is_number()) return true;
      return s["minReplicas"].get<double>() <= s["maxReplicas"].get<double>();
    });
    add("!has(self.batchSize) || !has(self.maxInFlight) || self.maxInFlight >= self.batchSize", [](const json& s) {
      if (!has(s, "batchSize") || !has(s, "maxInFlight")) return true;
      if (!s["batchSize"].is_number() || !s["maxInFlight"].is_number()) return true;
      return s["maxInFlight"].get<double>() >= s["batchSize"].get<double>();
    });
    add("self.runtime != 'builtin' || (has(self.pipeline) && size(self.pipeline) > 0)", [](const json& s) {
      return stringField(s, "runtime") != "builtin" ||
             (has(s, "pipeline") && s["pipeline"].is_array() && !s["pipeline"].empty());
    });
    addProtocolTwins(add);
    add("(has(self.kafka) ? 1 : 0) + (has(self.rabbitmq) ? 1 : 0) + (has(self.cron) ? 1 : 0) + (has(self.http) ? 1 : "
        "0) + (has(self.objectStore) ? 1 : 0) + (has(self.prometheus) ? 1 : 0) == 1",
        [](const json& s) {
          return countPresent(s, {"kafka", "rabbitmq", "cron", "http", "objectStore", "prometheus"}) == 1;
        });
    add(R"(self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\\S+\\s+){4}\\S+)$'))",
        [](const json& s) {
          static const RE2 kCron(R"(^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$)");
          return s.is_string() && RE2::PartialMatch(s.get<std::string>(), kCron);
        });
    add("self.type != 's3' || (has(self.endpoint) && has(self.bucket))",
        [](const json& s) { return stringField(s, "type") != "s3" || (has(s, "endpoint") && has(s, "bucket")); });
    add("self.type != 'dir' || has(self.path)",
        [](const json& s) { return stringField(s, "type") != "dir" || has(s, "path"); });
    add("self.type != 'webhdfs' || (has(self.endpoint) && has(self.path))",
        [](const json& s) { return stringField(s, "type") != "webhdfs" || (has(s, "endpoint") && has(s, "path")); });
    add("self.type != 'webhdfs' || !has(self.endpoint) || self.endpoint.startsWith('http://')", [](const json& s) {
      return stringField(s, "type") != "webhdfs" || !has(s, "endpoint") ||
             stringField(s, "endpoint").rfind("http://", 0) == 0;
    });
    add("self.action != 'move' || has(self.destinationPrefix)",
        [](const json& s) { return stringField(s, "action") != "move" || has(s, "destinationPrefix"); });
    add("self > 0", [](const json& s) { return s.is_number() && s.get<double>() > 0; });
    add("self != 0", [](const json& s) { return !s.is_number() || s.get<double>() != 0; });
    add("self == true", [](const json& s) { return !s.is_boolean() || s.get<bool>(); });
    addPodTwins(add);
    addHttpTwins(add);
    addPipelineTwins(add);
    return t;
  }();
  return twins;
}

std::string typeName(const json& value) {
  switch (value.type()) {
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::null: return "null";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    default: return "number";
  }
}

bool isInteger(const json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return true;
  return value.is_number_float() && std::floor(value.get<double>()) == value.get<double>() &&
         std::isfinite(value.get<double>());
}

std::string numberText(const json& value) {
  // A whole float prints as an integer, when it is one long long can hold: casting 1e128 is
  // undefined behaviour (found by fuzzing, issue 16), and dump() says such a value well enough.
  constexpr double kLongLongBound = 9.2e18;
  if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>() &&
      std::fabs(value.get<double>()) < kLongLongBound) {
    return std::to_string(static_cast<long long>(value.get<double>()));
  }
  return value.dump();
}

class Walker {
 public:
  explicit Walker(std::vector<FieldError>& errors) : errors_(errors) {}

  void applyDefaults(const json& schema, json& value) {
    if (value.is_object() && schema.contains("properties")) {
      for (const auto& [name, sub] : schema["properties"].items()) {
        if (!value.contains(name) && sub.contains("default")) value[name] = sub["default"];
        if (value.contains(name)) applyDefaults(sub, value[name]);
      }
    }
    if (value.is_object() && schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
      for (auto& [name, item] : value.items()) applyDefaults(schema["additionalProperties"], item);
    }
    if (value.is_array() && schema.contains("items")) {
      for (json& item : value) applyDefaults(schema["items"], item);
    }
  }

  void check(const json& schema, const json& value, const std::string& pointer) {
    const std::string path = fieldPath(pointer);
    // A value of the wrong type gets that one error, as the apiserver reports it.
    if (!checkType(schema, value, pointer, path)) return;
    if (schema.contains("enum")) checkEnum(schema, value, pointer, path);
    if (value.is_number()) checkNumber(schema, value, pointer, path);
    if (value.is_string()) checkString(schema, value, pointer, path);
    if (value.is_array()) checkArray(schema, value, pointer, path);
    if (value.is_object()) checkObject(schema, value, pointer, path);
    checkRules(schema, value, pointer);
  }

 private:
  // false when the value is not of the schema's type (or is an allowed null): nothing more to check.
  bool checkType(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    if (schema.value("x-kubernetes-int-or-string", false)) {
      if (!value.is_string() && !isInteger(value)) {
        fail(pointer, path + ": Invalid value: \"" + typeName(value) + "\": " + path +
                          " in body must be of type integer,string: \"" + typeName(value) + "\"");
        return false;
      }
    } else if (schema.contains("type")) {
      const std::string type = schema["type"].get<std::string>();
      bool ok = type == "object"    ? value.is_object()
                : type == "array"   ? value.is_array()
                : type == "string"  ? value.is_string()
                : type == "boolean" ? value.is_boolean()
                : type == "integer" ? isInteger(value)
                : type == "number"  ? value.is_number()
                                    : true;
      if (value.is_null() && schema.value("nullable", false)) return false;
      if (!ok) {
        fail(pointer, path + ": Invalid value: \"" + typeName(value) + "\": " + path + " in body must be of type " +
                          type + ": \"" + typeName(value) + "\"");
        return false;
      }
    }
    return true;
  }

  void checkEnum(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    bool found = false;
    for (const json& allowed : schema["enum"]) found = found || allowed == value;
    if (!found) {
      std::string supported;
      for (const json& allowed : schema["enum"]) supported += (supported.empty() ? "" : ", ") + allowed.dump();
      fail(pointer, path + ": Unsupported value: " + value.dump() + ": supported values: " + supported);
    }
  }

  void checkNumber(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    if (schema.contains("minimum") && schema.value("exclusiveMinimum", false) &&
        value.get<double>() <= schema["minimum"].get<double>()) {
      fail(pointer, path + ": Invalid value: " + numberText(value) + ": " + path + " in body should be greater than " +
                        numberText(schema["minimum"]));
    } else if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>()) {
      fail(pointer, path + ": Invalid value: " + numberText(value) + ": " + path +
                        " in body should be greater than or equal to " + numberText(schema["minimum"]));
    }
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>()) {
      fail(pointer, path + ": Invalid value: " + numberText(value) + ": " + path +
                        " in body should be less than or equal to " + numberText(schema["maximum"]));
    }
  }

  void checkString(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    const std::string text = value.get<std::string>();
    // Lengths count characters (runes), as the apiserver does.
    size_t length = 0;
    for (unsigned char c : text) length += (c & 0xC0) != 0x80 ? 1 : 0;
    if (schema.contains("minLength") && length < schema["minLength"].get<size_t>()) {
      fail(pointer, path + ": Invalid value: " + value.dump() + ": " + path + " in body should be at least " +
                        schema["minLength"].dump() + " chars long");
    }
    if (schema.contains("maxLength") && length > schema["maxLength"].get<size_t>()) {
      fail(pointer, path + ": Too long: may not be more than " + schema["maxLength"].dump() + " bytes");
    }
    if (schema.contains("pattern")) {
      RE2 pattern(schema["pattern"].get<std::string>(), RE2::Quiet);
      if (pattern.ok() && !RE2::PartialMatch(text, pattern)) {
        fail(pointer, path + ": Invalid value: " + value.dump() + ": " + path + " in body should match '" +
                          schema["pattern"].get<std::string>() + "'");
      }
    }
  }

  void checkArray(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) {
      fail(pointer, path + ": Invalid value: " + std::to_string(value.size()) + ": " + path +
                        " in body should have at least " + schema["minItems"].dump() + " items");
    }
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) {
      fail(pointer, path + ": Too many: " + std::to_string(value.size()) + ": must have at most " +
                        schema["maxItems"].dump() + " items");
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) check(schema["items"], value[i], pointer + "/" + std::to_string(i));
    }
  }

  void checkObject(const json& schema, const json& value, const std::string& pointer, const std::string& path) {
    if (schema.contains("maxProperties") && value.size() > schema["maxProperties"].get<size_t>()) {
      fail(pointer, path + ": Too many: " + std::to_string(value.size()) + ": must have at most " +
                        schema["maxProperties"].dump() + " items");
    }
    for (const json& required : schema.value("required", json::array())) {
      const std::string name = required.get<std::string>();
      if (!value.contains(name)) {
        fail(pointer + "/" + name, fieldPath(pointer + "/" + name) + ": Required value");
      }
    }
    const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
    for (const auto& [name, item] : value.items()) {
      const std::string child = pointer + "/" + name;
      if (schema.contains("properties") && schema["properties"].contains(name)) {
        check(schema["properties"][name], item, child);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        check(schema["additionalProperties"], item, child);
      } else if (!preserve && (schema.contains("properties") || schema.contains("additionalProperties"))) {
        // kubectl apply's strict field validation refuses these.
        fail(child, "unknown field \"" + fieldPath(child) + "\"");
      }
    }
  }

  // The CEL rules, through their C++ twins.
  void checkRules(const json& schema, const json& value, const std::string& pointer) {
    for (const json& validation : schema.value("x-kubernetes-validations", json::array())) {
      const std::string rule = normalizeRule(validation.value("rule", ""));
      auto twin = celTwins().find(rule);
      if (twin == celTwins().end() || twin->second(value)) continue;
      std::string at = pointer;
      if (validation.contains("fieldPath")) {
        std::string fp = validation["fieldPath"].get<std::string>();
        for (char& c : fp) c = c == '.' ? '/' : c;
        at += fp;
      }
      // The apiserver shows the schema's type here ("number" for 0 in a number field).
      const std::string shown = schema.contains("type") ? schema["type"].get<std::string>() : typeName(value);
      fail(at, fieldPath(at) + ": Invalid value: \"" + shown +
                   "\": " + normalizeRule(validation.value("message", "failed rule: " + rule)));
    }
  }

  void fail(const std::string& pointer, std::string message) { errors_.push_back({pointer, std::move(message)}); }
  std::vector<FieldError>& errors_;
};

void collectRules(const json& schema, std::set<std::string>& rules) {
  if (schema.is_object()) {
    for (const json& v : schema.value("x-kubernetes-validations", json::array())) {
      rules.insert(normalizeRule(v.value("rule", "")));
    }
    for (const auto& [key, sub] : schema.items()) {
      if (key != "x-kubernetes-validations") collectRules(sub, rules);
    }
  } else if (schema.is_array()) {
    for (const json& sub : schema) collectRules(sub, rules);
  }
}

bool isDnsSubdomain(const std::string& name) {
  static const RE2 kName("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return name.size() <= 253 && RE2::FullMatch(name, kName);
}

}  // namespace

std::string fieldPath(const std::string& pointer) {
  std::string out;
  size_t i = 0;
  while (i < pointer.size()) {
    size_t next = pointer.find('/', i + 1);
    std::string token = pointer.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
    bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    out += index ? "[" + token + "]" : (out.empty() ? "" : ".") + token;
    if (next == std::string::npos) break;
    i = next;
  }
  return out;
}

Result<CrdValidator> CrdValidator::fromCrds(const std::vector<std::string>& crdYamlTexts) {
  CrdValidator validator;
  for (const std::string& text : crdYamlTexts) {
    auto documents = parseYamlDocuments(text);
    if (!documents.isOk()) return documents.status().withContext("CRD");
    for (const YamlDocument& document : *documents) {
      const json& crd = document.value;
      try {
        const std::string group = crd.at("spec").at("group").get<std::string>();
        const std::string kind = crd.at("spec").at("names").at("kind").get<std::string>();
        for (const json& version : crd.at("spec").at("versions")) {
          if (!version.value("storage", false)) continue;
          KindSchema schema{group + "/" + version.at("name").get<std::string>(),
                            version.at("schema").at("openAPIV3Schema")};
          std::set<std::string> rules;
          collectRules(schema.openApi, rules);
          for (const std::string& rule : rules) {
            if (!celTwins().contains(rule)) {
              return invalidArgument("CRD " + kind + ": CEL rule without a --local implementation: " + rule);
            }
          }
          validator.schemas_[kind] = std::move(schema);
        }
      } catch (const json::exception& e) {
        return invalidArgument(std::string("CRD: ") + e.what());
      }
    }
  }
  return validator;
}

const CrdValidator& CrdValidator::builtin() {
  static const CrdValidator validator = [] {
    auto built = fromCrds({kFunctionCrdYaml, kTriggerCrdYaml});
    // The CRDs are part of this build; a unit test keeps them loadable.
    if (!built.isOk()) throw std::logic_error(built.status().toString());
    return std::move(built).value();
  }();
  return validator;
}

std::vector<FieldError> CrdValidator::validate(json& object) const {
  std::vector<FieldError> errors;
  if (!object.is_object()) {
    errors.push_back({"", "Invalid value: \"" + typeName(object) + "\": a manifest must be a YAML mapping"});
    return errors;
  }
  // Not value("kind", ""): it throws when the field is there but not a string (kind: null).
  auto schema = schemas_.find(stringField(object, "kind"));
  if (schema == schemas_.end()) {
    std::string known;
    for (const auto& [name, s] : schemas_) known += (known.empty() ? "" : ", ") + name;
    errors.push_back({"/kind", "kind: Unsupported value: " + object.value("kind", json("")).dump() +
                                   ": supported values: " + known});
    return errors;
  }
  if (stringField(object, "apiVersion") != schema->second.apiVersion) {
    errors.push_back({"/apiVersion", "apiVersion: Unsupported value: " + object.value("apiVersion", json("")).dump() +
                                         ": supported values: \"" + schema->second.apiVersion + "\""});
    return errors;
  }
  const json& meta = object.value("metadata", json::object());
  if (!meta.contains("name") || !meta["name"].is_string() || meta["name"].get<std::string>().empty()) {
    errors.push_back({"/metadata/name", "metadata.name: Required value: name is required"});
  } else if (!isDnsSubdomain(meta["name"].get<std::string>())) {
    errors.push_back({"/metadata/name", "metadata.name: Invalid value: " + meta["name"].dump() +
                                            ": a lowercase RFC 1123 subdomain must consist of lower case "
                                            "alphanumeric characters, '-' or '.', and must start and end with an "
                                            "alphanumeric character"});
  }
  Walker walker(errors);
  const json& openApi = schema->second.openApi;
  if (openApi.contains("properties") && openApi["properties"].contains("spec")) {
    const json& specSchema = openApi["properties"]["spec"];
    if (!object.contains("spec")) {
      if (specSchema.contains("default")) {
        object["spec"] = specSchema["default"];
      } else if (openApi.value("required", json::array()).dump().find("\"spec\"") != std::string::npos) {
        errors.push_back({"/spec", "spec: Required value"});
        return errors;
      } else {
        object["spec"] = json::object();
      }
    }
    walker.applyDefaults(specSchema, object["spec"]);
    walker.check(specSchema, object["spec"], "/spec");
  }
  // What the schema cannot see, once it has passed (so each check reads well-typed fields).
  if (errors.empty()) errors = checkSemantics(object);
  return errors;
}

}  // namespace sluice::api::v1alpha1
