#include "api/v1alpha1/secret_keys.h"

#include "api/v1alpha1/trigger.h"

namespace sluice::api::v1alpha1 {
namespace {

using nlohmann::json;

// The name of the Secret `ref` points at, or "" when it names none.
std::string secretName(const json& ref) {
  if (!ref.is_object() || !ref.contains("name") || !ref["name"].is_string()) return "";
  return ref["name"].get<std::string>();
}

// `ref[keyField]` when it is a string, else `fallback` (the CRD's default).
std::string keyOf(const json& ref, const char* keyField, const char* fallback) {
  return ref.contains(keyField) && ref[keyField].is_string() ? ref[keyField].get<std::string>() : fallback;
}

void add(std::vector<SecretKey>& out, const json& ref, const std::vector<std::string>& keys, const std::string& field) {
  const std::string name = secretName(ref);
  if (name.empty()) return;
  for (const std::string& key : keys) out.push_back({name, key, field});
}

}  // namespace

std::vector<SecretKey> sinkSecretKeys(const json& sink, const std::string& path) {
  std::vector<SecretKey> out;
  if (!sink.is_object()) return out;
  auto object = [&sink](const char* type) -> const json* {
    return sink.contains(type) && sink[type].is_object() ? &sink[type] : nullptr;
  };
  if (const json* kafka = object("kafka")) {
    // The same settings as a Kafka source's; a malformed one the schema refuses is skipped.
    if (Result<KafkaSource> security = kafkaSecurityOf(*kafka, path + ".kafka"); security.isOk()) {
      out = kafkaSecretKeys(*security, path + ".kafka");
    }
  }
  if (const json* rabbit = object("rabbitmq")) {
    // The URL key and any tls keys, as a RabbitMQ source's.
    if (Result<RabbitMqSource> connection = rabbitMqConnectionOf(*rabbit, path + ".rabbitmq"); connection.isOk()) {
      for (SecretKey& key : rabbitMqSecretKeys(*connection, path + ".rabbitmq")) out.push_back(std::move(key));
    }
  }
  if (const json* http = object("http")) {
    const json& ref = http->value("bearerTokenSecretRef", json());
    if (ref.is_object()) add(out, ref, {keyOf(ref, "key", "token")}, path + ".http.bearerTokenSecretRef");
  }
  if (const json* s3 = object("s3")) {
    add(out, s3->value("credentialsSecretRef", json()), {"accessKey", "secretKey"}, path + ".s3.credentialsSecretRef");
  }
  return out;
}

std::vector<SecretKey> functionSecretKeys(const json& spec) {
  std::vector<SecretKey> out;
  if (!spec.is_object()) return out;
  auto append = [&out](std::vector<SecretKey> more) { out.insert(out.end(), more.begin(), more.end()); };
  const json& outputs = spec.value("outputs", json::array());
  for (size_t i = 0; outputs.is_array() && i < outputs.size(); ++i) {
    append(sinkSecretKeys(outputs[i], "spec.outputs[" + std::to_string(i) + "]"));
  }
  if (spec.contains("deadLetter")) append(sinkSecretKeys(spec["deadLetter"], "spec.deadLetter"));
  const json& pipeline = spec.value("pipeline", json::array());
  for (size_t i = 0; pipeline.is_array() && i < pipeline.size(); ++i) {
    const json mirror = pipeline[i].is_object() ? pipeline[i].value("mirror", json()) : json();
    const json definitions = mirror.is_object() ? mirror.value("definitions", json()) : json();
    if (!definitions.is_object()) continue;
    for (const char* field : {"sourceManagementSecretRef", "targetManagementSecretRef"}) {
      const json& ref = definitions.value(field, json());
      add(out, ref, {keyOf(ref, "key", "managementUrl")},
          "spec.pipeline[" + std::to_string(i) + "].mirror.definitions." + field);
    }
  }
  const json& env = spec.value("env", json::array());
  for (size_t i = 0; env.is_array() && i < env.size(); ++i) {
    const json* ref = env[i].is_object() ? &env[i] : nullptr;
    for (const char* step : {"valueFrom", "secretKeyRef"}) {
      ref = ref && ref->contains(step) && (*ref)[step].is_object() ? &(*ref)[step] : nullptr;
    }
    // An optional reference lets the pod start without it.
    if (!ref || ref->value("optional", false) == true || !ref->contains("key") || !(*ref)["key"].is_string()) continue;
    add(out, *ref, {(*ref)["key"].get<std::string>()}, "spec.env[" + std::to_string(i) + "].valueFrom.secretKeyRef");
  }
  return out;
}

std::string missingSecretKey(const json& secret, const std::string& ns, const SecretKey& need) {
  for (const char* where : {"data", "stringData"}) {
    if (secret.contains(where) && secret[where].is_object() && secret[where].contains(need.key)) return "";
  }
  return need.field + ": Secret " + ns + "/" + need.secret + " has no key " + need.key;
}

}  // namespace sluice::api::v1alpha1
