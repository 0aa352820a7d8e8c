#include "api/v1alpha1/trigger.h"

#include <algorithm>

#include "api/v1alpha1/fields.h"

namespace sluice::api::v1alpha1 {

using nlohmann::json;

namespace {

// The queue-like sources: which fields hold the per-replica target and the
// activation threshold, and the CRD's default target.
struct TargetFields {
  const char* source;
  const char* target;
  const char* activation;
  int64_t defaultTarget;
};
constexpr TargetFields kTargetFields[] = {{"kafka", "lagThreshold", "activationLagThreshold", 10},
                                          {"rabbitmq", "queueLength", "activationQueueLength", 20},
                                          {"objectStore", "targetObjectCount", "activationObjectCount", 5}};

const TargetFields* targetFieldsOf(const std::string& source) {
  for (const TargetFields& fields : kTargetFields) {
    if (source == fields.source) return &fields;
  }
  return nullptr;
}

// Reads the target fields of `object` (the source); errors of type only.
Status readTarget(const json& object, const TargetFields& fields, ScalingTarget& out) {
  const std::string path = std::string("spec.") + fields.source;
  out.perReplica = fields.defaultTarget;
  if (Status s = readInt64(object, fields.target, path, out.perReplica); !s.isOk()) return s;
  return readInt64(object, fields.activation, path, out.activation);
}

Status checkTarget(const json& object, const TargetFields& fields, const ScalingTarget& target) {
  if (target.perReplica >= 1) return Status::ok();
  const json shown = hasField(object, fields.target) ? object[fields.target] : json(target.perReplica);
  return invalidArgument(std::string("spec.") + fields.source + "." + fields.target + ": " + shown.dump() +
                         " must be at least 1");
}

// Reads `<ref>.name` of a Secret reference at object[key] into `name`.
Status readSecretRef(const json& object, const char* key, const std::string& path, std::string& name) {
  const json* ref = nullptr;
  if (Status s = readObject(object, key, path, ref); !s.isOk() || !ref) return s;
  const std::string where = path + "." + key;
  if (Status s = requireField(*ref, "name", where); !s.isOk()) return s;
  return readString(*ref, "name", where, name);
}

Status readRequiredString(const json& object, const char* key, const std::string& path, std::string& out) {
  if (Status s = requireField(object, key, path); !s.isOk()) return s;
  return readString(object, key, path, out);
}

// --- each source: the fields' types first (wrapped with the source), then its rules.

Status readKafkaSecurity(const json& k, const std::string& path, KafkaSource& out) {
  const json* sasl = nullptr;
  if (Status s = readObject(k, "sasl", path, sasl); !s.isOk()) return s;
  if (sasl) {
    KafkaSource::Sasl settings;
    if (Status s = readRequiredString(*sasl, "mechanism", path + ".sasl", settings.mechanism); !s.isOk()) return s;
    if (Status s = requireField(*sasl, "secretRef", path + ".sasl"); !s.isOk()) return s;
    if (Status s = readSecretRef(*sasl, "secretRef", path + ".sasl", settings.secretName); !s.isOk()) return s;
    out.sasl = settings;
  }
  const json* tls = nullptr;
  if (Status s = readObject(k, "tls", path, tls); !s.isOk()) return s;
  if (tls) {
    KafkaSource::Tls settings;
    if (Status s = readSecretRef(*tls, "secretRef", path + ".tls", settings.secretName); !s.isOk()) return s;
    if (Status s = readBool(*tls, "mutual", path + ".tls", settings.mutual); !s.isOk()) return s;
    out.tls = settings;
  }
  return Status::ok();
}

Status readKafkaFields(const json& k, KafkaSource& out) {
  const std::string path = "spec.kafka";
  if (Status s = requireField(k, "bootstrapServers", path); !s.isOk()) return s;
  if (Status s = readStringList(k, "bootstrapServers", path, out.bootstrapServers); !s.isOk()) return s;
  if (Status s = requireField(k, "topics", path); !s.isOk()) return s;
  if (Status s = readStringList(k, "topics", path, out.topics); !s.isOk()) return s;
  if (Status s = readRequiredString(k, "consumerGroup", path, out.consumerGroup); !s.isOk()) return s;
  ScalingTarget target;
  if (Status s = readTarget(k, *targetFieldsOf("kafka"), target); !s.isOk()) return s;
  out.lagThreshold = target.perReplica;
  out.activationLagThreshold = target.activation;
  if (Status s = readString(k, "initialOffset", path, out.initialOffset); !s.isOk()) return s;
  for (auto [key, field] :
       std::initializer_list<std::pair<const char*, bool*>>{{"allowIdleConsumers", &out.allowIdleConsumers},
                                                            {"limitToPartitionsWithLag", &out.limitToPartitionsWithLag},
                                                            {"excludePersistentLag", &out.excludePersistentLag}}) {
    if (Status s = readBool(k, key, path, *field); !s.isOk()) return s;
  }
  return readKafkaSecurity(k, path, out);
}

Status checkKafka(const json& k, const KafkaSource& kafka) {
  if (kafka.initialOffset != "latest" && kafka.initialOffset != "earliest") {
    return invalidArgument("spec.kafka.initialOffset: \"" + kafka.initialOffset + "\" is not earliest or latest");
  }
  return checkTarget(k, *targetFieldsOf("kafka"), {kafka.lagThreshold, kafka.activationLagThreshold});
}

// tls of a RabbitMQ connection at `path`: Secret keys, none required, but a
// client certificate without its key (or a key alone) cannot be used.
Status readRabbitMqTls(const json& r, const std::string& path, RabbitMqSource& out) {
  const json* tls = nullptr;
  if (Status s = readObject(r, "tls", path, tls); !s.isOk()) return s;
  if (!tls) return Status::ok();
  RabbitMqSource::Tls keys;
  for (auto [name, field] :
       {std::pair{"caKey", &keys.caKey}, std::pair{"certKey", &keys.certKey}, std::pair{"keyKey", &keys.keyKey}}) {
    if (Status s = readString(*tls, name, path + ".tls", *field); !s.isOk()) return s;
  }
  if (keys.certKey.empty() != keys.keyKey.empty()) {
    return invalidArgument(path + ".tls." + (keys.certKey.empty() ? "certKey" : "keyKey") + ": is required with " +
                           (keys.certKey.empty() ? "keyKey" : "certKey") + " (a client certificate goes with its key)");
  }
  out.tls = keys;
  return Status::ok();
}

// The connection and queue of a RabbitMQ queue at `path` (spec.rabbitmq, spec.http.async.rabbitmq).
Status readRabbitMqQueue(const json& r, const std::string& path, RabbitMqSource& out) {
  if (Status s = readRequiredString(r, "queue", path, out.queue); !s.isOk()) return s;
  if (Status s = requireField(r, "connectionSecretRef", path); !s.isOk()) return s;
  if (Status s = readSecretRef(r, "connectionSecretRef", path, out.connectionSecretName); !s.isOk()) return s;
  const json& ref = r["connectionSecretRef"];
  if (Status s = readString(ref, "key", path + ".connectionSecretRef", out.urlKey); !s.isOk()) return s;
  if (Status s = readString(ref, "managementKey", path + ".connectionSecretRef", out.managementUrlKey); !s.isOk())
    return s;
  return readRabbitMqTls(r, path, out);
}

Status readRabbitMqFields(const json& r, RabbitMqSource& out) {
  const std::string path = "spec.rabbitmq";
  if (Status s = readRabbitMqQueue(r, path, out); !s.isOk()) return s;
  if (Status s = readString(r, "depthMetric", path, out.depthMetric); !s.isOk()) return s;
  ScalingTarget target;
  if (Status s = readTarget(r, *targetFieldsOf("rabbitmq"), target); !s.isOk()) return s;
  out.queueLength = target.perReplica;
  out.activationQueueLength = target.activation;
  return Status::ok();
}

Status checkRabbitMq(const json& r, const RabbitMqSource& rabbitmq) {
  if (rabbitmq.depthMetric != "messages" && rabbitmq.depthMetric != "messagesReady") {
    return invalidArgument("spec.rabbitmq.depthMetric: \"" + rabbitmq.depthMetric +
                           "\" is not messages or messagesReady");
  }
  return checkTarget(r, *targetFieldsOf("rabbitmq"), {rabbitmq.queueLength, rabbitmq.activationQueueLength});
}

Status readObjectStoreFields(const json& o, ObjectStoreSource& out) {
  const std::string path = "spec.objectStore";
  if (Status s = readRequiredString(o, "type", path, out.type); !s.isOk()) return s;
  for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{{"endpoint", &out.endpoint},
                                                                                       {"bucket", &out.bucket},
                                                                                       {"path", &out.path},
                                                                                       {"prefix", &out.prefix},
                                                                                       {"region", &out.region},
                                                                                       {"user", &out.user}}) {
    if (Status s = readString(o, key, path, *field); !s.isOk()) return s;
  }
  if (Status s = readSecretRef(o, "credentialsSecretRef", path, out.credentialsSecretName); !s.isOk()) return s;
  ScalingTarget target;
  if (Status s = readTarget(o, *targetFieldsOf("objectStore"), target); !s.isOk()) return s;
  out.targetObjectCount = target.perReplica;
  out.activationObjectCount = target.activation;
  if (Status s = readInt64(o, "maxObjectsToScan", path, out.maxObjectsToScan); !s.isOk()) return s;
  // Where each store type looks: s3 an endpoint and bucket, dir a path, webhdfs both.
  std::vector<const char*> required;
  if (out.type == "s3") required = {"endpoint", "bucket"};
  if (out.type == "dir") required = {"path"};
  if (out.type == "webhdfs") required = {"endpoint", "path"};
  for (const char* key : required) {
    if (Status s = requireField(o, key, path); !s.isOk()) return s;
  }
  return Status::ok();
}

Status checkObjectStore(const json& o, const ObjectStoreSource& store) {
  if (store.type != "s3" && store.type != "dir" && store.type != "webhdfs") {
    return invalidArgument("spec.objectStore.type: \"" + store.type + "\" is not s3, dir or webhdfs");
  }
  return checkTarget(o, *targetFieldsOf("objectStore"), {store.targetObjectCount, store.activationObjectCount});
}

Status readCronFields(const json& c, CronSource& out) {
  const std::string path = "spec.cron";
  if (Status s = readRequiredString(c, "schedule", path, out.schedule); !s.isOk()) return s;
  if (Status s = readString(c, "timezone", path, out.timezone); !s.isOk()) return s;
  if (Status s = readInt(c, "replicas", path, out.replicas); !s.isOk()) return s;
  return readInt(c, "windowSeconds", path, out.windowSeconds);
}

Status readPrometheusFields(const json& p, PrometheusSource& out) {
  const std::string path = "spec.prometheus";
  if (Status s = readRequiredString(p, "serverAddress", path, out.serverAddress); !s.isOk()) return s;
  if (Status s = readRequiredString(p, "query", path, out.query); !s.isOk()) return s;
  if (Status s = requireField(p, "threshold", path); !s.isOk()) return s;
  if (Status s = readNumber(p, "threshold", path, out.threshold); !s.isOk()) return s;
  return readNumber(p, "activationThreshold", path, out.activationThreshold);
}

Status checkPrometheus(const json& p, const PrometheusSource& prometheus) {
  if (prometheus.threshold > 0) return Status::ok();
  return invalidArgument("spec.prometheus.threshold: " + p["threshold"].dump() + " must be greater than 0");
}

// spec.http.async.kafka: the topic and connection (the replicas' group and
// where it starts are fixed here, see Trigger::httpAsyncKafka).
Status readHttpAsyncKafka(const json& k, const Trigger& trigger, KafkaSource& out) {
  const std::string path = "spec.http.async.kafka";
  if (Status s = requireField(k, "bootstrapServers", path); !s.isOk()) return s;
  if (Status s = readStringList(k, "bootstrapServers", path, out.bootstrapServers); !s.isOk()) return s;
  std::string topic;
  if (Status s = readRequiredString(k, "topic", path, topic); !s.isOk()) return s;
  out.topics = {topic};
  out.consumerGroup = asyncConsumerGroup(trigger.ns, trigger.name);
  if (Status s = readString(k, "consumerGroup", path, out.consumerGroup); !s.isOk()) return s;
  out.initialOffset = "earliest";
  return readKafkaSecurity(k, path, out);
}

// spec.http.async, when set: exactly one of rabbitmq and kafka.
Status readHttpAsync(Trigger& out) {
  const json* async = nullptr;
  if (Status s = readObject(out.http, "async", "spec.http", async); !s.isOk() || !async) return s;
  const json* rabbitmq = nullptr;
  if (Status s = readObject(*async, "rabbitmq", "spec.http.async", rabbitmq); !s.isOk()) return s;
  const json* kafka = nullptr;
  if (Status s = readObject(*async, "kafka", "spec.http.async", kafka); !s.isOk()) return s;
  if ((rabbitmq != nullptr) == (kafka != nullptr)) {
    return invalidArgument("spec.http.async: set exactly one of rabbitmq or kafka (where invocations are kept)");
  }
  if (kafka) {
    KafkaSource topic;
    if (Status s = readHttpAsyncKafka(*kafka, out, topic); !s.isOk()) return s;
    out.httpAsyncKafka = std::move(topic);
    return Status::ok();
  }
  RabbitMqSource queue;
  if (Status s = readRabbitMqQueue(*rabbitmq, "spec.http.async.rabbitmq", queue); !s.isOk()) return s;
  out.httpAsync = std::move(queue);
  return Status::ok();
}

// Reads spec[type] with readFields (its errors wrapped with "spec.<type>")
// into `out`, then checks its rules.
template <typename Source, typename Read, typename Check>
Status readSource(const json& spec, const std::string& type, std::optional<Source>& out, Read readFields, Check check) {
  const json* object = nullptr;
  if (Status s = readObject(spec, type.c_str(), "spec", object); !s.isOk()) return s;
  const json empty = json::object();
  if (!object) object = &empty;
  Source source;
  if (Status s = readFields(*object, source); !s.isOk()) return s.withContext("spec." + type);
  if (Status s = check(*object, source); !s.isOk()) return s;
  out = std::move(source);
  return Status::ok();
}

Status readSourceOf(const json& spec, Trigger& out) {
  const std::string& type = out.sourceType;
  if (type == "kafka") return readSource(spec, type, out.kafka, readKafkaFields, checkKafka);
  if (type == "rabbitmq") return readSource(spec, type, out.rabbitmq, readRabbitMqFields, checkRabbitMq);
  if (type == "objectStore") {
    return readSource(spec, type, out.objectStore, readObjectStoreFields, checkObjectStore);
  }
  if (type == "cron") {
    return readSource(spec, type, out.cron, readCronFields,
                      [](const json&, const CronSource&) { return Status::ok(); });
  }
  if (type == "prometheus") return readSource(spec, type, out.prometheus, readPrometheusFields, checkPrometheus);
  if (type == "http") {
    out.http = spec["http"];
    return readHttpAsync(out);
  }
  return invalidArgument("spec: no source (kafka, rabbitmq, cron, http, objectStore or prometheus)");
}

void collectSecrets(const json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      bool isRef = key == "secretRef" || (key.size() > 9 && key.ends_with("SecretRef"));
      if (isRef && value.is_object() && value.contains("name") && value["name"].is_string()) {
        std::string name = value["name"];
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
      } else {
        collectSecrets(value, out);
      }
    }
  } else if (node.is_array()) {
    for (const json& item : node) collectSecrets(item, out);
  }
}

}  // namespace

std::string kafkaSecurityProtocol(bool sasl, bool tls) {
  return std::string(sasl ? "SASL_" : "") + (tls ? "SSL" : "PLAINTEXT");
}

std::string asyncConsumerGroup(const std::string& ns, const std::string& trigger) {
  return "sluice-async-" + ns + "-" + trigger;
}

std::string KafkaSource::securityProtocol() const { return kafkaSecurityProtocol(sasl.has_value(), tls.has_value()); }

Result<Trigger> Trigger::fromJson(const json& trigger) {
  Trigger out;
  const json empty = json::object();
  const json& metadata = trigger.is_object() && trigger.contains("metadata") ? trigger["metadata"] : empty;
  // metadata is the apiserver's: read leniently.
  out.name = metadata.value("name", std::string());
  out.ns = metadata.value("namespace", std::string());
  out.uid = metadata.value("uid", std::string());
  const json* spec = nullptr;
  if (Status s = readObject(trigger, "spec", "", spec); !s.isOk()) return s;
  if (!spec) spec = &empty;
  const json* ref = nullptr;
  if (Status s = readObject(*spec, "functionRef", "spec", ref); !s.isOk()) return s;
  if (ref) {
    if (Status s = readString(*ref, "name", "spec.functionRef", out.functionName); !s.isOk()) return s;
  }
  out.sourceType = sourceTypeOf(*spec);
  if (Status s = readSourceOf(*spec, out); !s.isOk()) return s;
  const json* delivery = nullptr;
  if (Status s = readObject(*spec, "delivery", "spec", delivery); !s.isOk()) return s;
  if (delivery && delivery->contains("maxInFlightBytes")) {
    int64_t bytes = 0;
    if (Status s = readInt64(*delivery, "maxInFlightBytes", "spec.delivery", bytes); !s.isOk()) return s;
    out.delivery.maxInFlightBytes = bytes;
  }
  return out;
}

std::vector<SecretKey> kafkaSecretKeys(const KafkaSource& kafka, const std::string& path) {
  std::vector<SecretKey> out;
  if (kafka.sasl) {
    for (const char* key : {"username", "password"})
      out.push_back({kafka.sasl->secretName, key, path + ".sasl.secretRef"});
  }
  if (kafka.tls && !kafka.tls->secretName.empty()) {
    std::vector<const char*> keys{"ca.crt"};
    if (kafka.tls->mutual) keys.insert(keys.end(), {"tls.crt", "tls.key"});
    for (const char* key : keys) out.push_back({kafka.tls->secretName, key, path + ".tls.secretRef"});
  }
  return out;
}

std::vector<SecretKey> rabbitMqSecretKeys(const RabbitMqSource& rabbitmq, const std::string& path) {
  std::vector<SecretKey> out{{rabbitmq.connectionSecretName, rabbitmq.urlKey, path + ".connectionSecretRef"}};
  if (!rabbitmq.tls) return out;
  for (auto [key, field] :
       {std::pair{&rabbitmq.tls->caKey, ".tls.caKey"}, std::pair{&rabbitmq.tls->certKey, ".tls.certKey"},
        std::pair{&rabbitmq.tls->keyKey, ".tls.keyKey"}}) {
    if (!key->empty()) out.push_back({rabbitmq.connectionSecretName, *key, path + field});
  }
  return out;
}

std::vector<SecretKey> Trigger::requiredSecretKeys() const {
  if (kafka) return kafkaSecretKeys(*kafka, "spec.kafka");
  if (httpAsyncKafka) return kafkaSecretKeys(*httpAsyncKafka, "spec.http.async.kafka");
  // The AMQP URL is a secretKeyRef of the replica (and the gateway reads it): without it a pod never
  // starts. The management URL is optional (read when present).
  if (rabbitmq) return rabbitMqSecretKeys(*rabbitmq, "spec.rabbitmq");
  if (httpAsync) return rabbitMqSecretKeys(*httpAsync, "spec.http.async.rabbitmq");
  if (objectStore && !objectStore->credentialsSecretName.empty()) {
    const char* field = "spec.objectStore.credentialsSecretRef";
    return {{objectStore->credentialsSecretName, "accessKey", field},
            {objectStore->credentialsSecretName, "secretKey", field}};
  }
  return {};
}

std::vector<SecretKey> Trigger::scalerSecrets() const {
  std::vector<SecretKey> out;
  auto add = [&out](const std::string& secret, const char* field) {
    if (secret.empty()) return;
    for (const SecretKey& s : out) {
      if (s.secret == secret) return;
    }
    out.push_back({secret, "", field});
  };
  if (kafka && kafka->sasl) add(kafka->sasl->secretName, "spec.kafka.sasl.secretRef");
  if (kafka && kafka->tls) add(kafka->tls->secretName, "spec.kafka.tls.secretRef");
  if (rabbitmq) add(rabbitmq->connectionSecretName, "spec.rabbitmq.connectionSecretRef");
  if (objectStore) add(objectStore->credentialsSecretName, "spec.objectStore.credentialsSecretRef");
  // An http Trigger's scaler measures its asynchronous backlog with spec.http.async's credentials.
  if (httpAsync) add(httpAsync->connectionSecretName, "spec.http.async.rabbitmq.connectionSecretRef");
  if (httpAsyncKafka && httpAsyncKafka->sasl)
    add(httpAsyncKafka->sasl->secretName, "spec.http.async.kafka.sasl.secretRef");
  if (httpAsyncKafka && httpAsyncKafka->tls)
    add(httpAsyncKafka->tls->secretName, "spec.http.async.kafka.tls.secretRef");
  return out;
}

bool allowsScalerAccess(const json& secret) {
  for (const char* where : {"labels", "annotations"}) {
    const json& map = secret.value("/metadata"_json_pointer / where, json::object());
    if (map.is_object() && map.value(kScalerAccessKey, json()) == "true") return true;
  }
  return false;
}

std::string scalerAccessRefusal(const json& secret, const std::string& ns, const std::string& field) {
  if (allowsScalerAccess(secret)) return "";
  const std::string name = secret.value("/metadata/name"_json_pointer, std::string());
  return field + ": Secret " + ns + "/" + name + " lacks the label " + kScalerAccessKey +
         "=\"true\", so the operator does not use its credentials to measure this Trigger (label or annotate the "
         "Secret to allow it)";
}

std::optional<int64_t> maxInFlightBytesOf(const json& spec) {
  if (!spec.is_object() || !spec.contains("delivery") || !spec["delivery"].is_object()) return std::nullopt;
  const json& delivery = spec["delivery"];
  if (!delivery.contains("maxInFlightBytes") || !delivery["maxInFlightBytes"].is_number_integer()) return std::nullopt;
  return delivery["maxInFlightBytes"].get<int64_t>();
}

std::string sourceTypeOf(const json& spec) {
  if (!spec.is_object()) return "";
  for (const char* type : {"kafka", "rabbitmq", "cron", "http", "objectStore", "prometheus"}) {
    if (spec.contains(type)) return type;
  }
  return "";
}

std::vector<std::string> referencedSecrets(const json& spec) {
  std::vector<std::string> out;
  collectSecrets(spec, out);
  return out;
}

std::vector<SecretKey> requiredSecretKeys(const json& spec) {
  Result<Trigger> trigger = Trigger::fromJson(json{{"spec", spec}});
  std::vector<SecretKey> out = trigger.isOk() ? trigger->requiredSecretKeys() : std::vector<SecretKey>{};
  if (spec.is_object() && spec.contains("delivery") && spec["delivery"].is_object() &&
      spec["delivery"].contains("deadLetter")) {
    for (SecretKey& key : sinkSecretKeys(spec["delivery"]["deadLetter"], "spec.delivery.deadLetter"))
      out.push_back(std::move(key));
  }
  return out;
}

Result<RabbitMqSource> rabbitMqConnectionOf(const json& rabbitmq, const std::string& path) {
  RabbitMqSource out;
  if (Status s = requireField(rabbitmq, "connectionSecretRef", path); !s.isOk()) return s;
  if (Status s = readSecretRef(rabbitmq, "connectionSecretRef", path, out.connectionSecretName); !s.isOk()) return s;
  if (Status s = readString(rabbitmq["connectionSecretRef"], "key", path + ".connectionSecretRef", out.urlKey);
      !s.isOk()) {
    return s;
  }
  if (Status s = readRabbitMqTls(rabbitmq, path, out); !s.isOk()) return s;
  return out;
}

Result<KafkaSource> kafkaSecurityOf(const json& kafka, const std::string& path) {
  KafkaSource out;
  if (Status s = readKafkaSecurity(kafka, path, out); !s.isOk()) return s;
  return out;
}

Result<std::optional<ScalingTarget>> scalingTargetOf(const json& spec) {
  const TargetFields* fields = targetFieldsOf(sourceTypeOf(spec));
  if (!fields) return std::optional<ScalingTarget>();
  const json* object = nullptr;
  if (Status s = readObject(spec, fields->source, "spec", object); !s.isOk()) return s;
  ScalingTarget target;
  const json& source = object ? *object : json::object();
  if (Status s = readTarget(source, *fields, target); !s.isOk()) return s;
  if (Status s = checkTarget(source, *fields, target); !s.isOk()) return s;
  return std::optional<ScalingTarget>(target);
}

Result<std::optional<HttpScalingTarget>> httpScalingTargetOf(const json& spec) {
  if (sourceTypeOf(spec) != "http") return std::optional<HttpScalingTarget>();
  const json* http = nullptr;
  if (Status s = readObject(spec, "http", "spec", http); !s.isOk()) return s;
  const json& fields = http ? *http : json::object();
  const bool concurrency = hasField(fields, "targetConcurrency");
  const bool rate = hasField(fields, "targetRequestsPerSecond");
  if (concurrency && rate) {
    return invalidArgument("spec.http: set targetConcurrency or targetRequestsPerSecond, not both");
  }
  HttpScalingTarget target;
  if (!concurrency && !rate) return std::optional<HttpScalingTarget>(target);
  const char* key = rate ? "targetRequestsPerSecond" : "targetConcurrency";
  if (rate) target.metric = HttpScalingTarget::Metric::kRequestsPerSecond;
  if (Status s = readNumber(fields, key, "spec.http", target.perReplica); !s.isOk()) return s;
  if (!(target.perReplica > 0)) {
    return invalidArgument("spec.http." + std::string(key) + ": " + fields[key].dump() + " must be greater than 0");
  }
  return std::optional<HttpScalingTarget>(target);
}

}  // namespace sluice::api::v1alpha1
