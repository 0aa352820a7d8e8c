#include "controllers/autoscaler/trigger_scaler_factory.h"

#include <map>

#include "common/encoding.h"
#include "kube/resource.h"
#include "scalers/cpu_scaler.h"
#include "scalers/cron_scaler.h"
#include "scalers/http_requests_scaler.h"
#include "scalers/kafka_lag.h"
#include "scalers/object_count_scaler.h"
#include "scalers/prometheus_scaler.h"
#include "scalers/rabbitmq_scaler.h"
#include "scalers/rdkafka_offset_source.h"
#include "scalers/s3_object_counter.h"

namespace sluice::controllers {

using nlohmann::json;

std::string triggerSourceType(const json& trigger) {
  if (!trigger.is_object() || !trigger.contains("spec") || !trigger["spec"].is_object()) return "";
  for (const char* source : {"kafka", "rabbitmq", "cron", "http", "objectStore", "prometheus"}) {
    if (trigger["spec"].contains(source)) return source;
  }
  return "";
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string joinStrings(const json& list, const char* separator) {
  std::string out;
  for (const json& item : list) out += (out.empty() ? "" : separator) + item.get<std::string>();
  return out;
}

}  // namespace

Result<std::string> amqpVhost(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return invalidArgument("AMQP URL has no scheme (amqp:// or amqps://)");
  size_t slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return std::string("/");
  std::string path = url.substr(slash + 1);
  if (size_t query = path.find('?'); query != std::string::npos) path.erase(query);
  if (path.empty()) return std::string("/");
  std::string vhost;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      int hi = i + 2 < path.size() ? hexValue(path[i + 1]) : -1;
      int lo = i + 2 < path.size() ? hexValue(path[i + 2]) : -1;
      if (hi < 0 || lo < 0) return invalidArgument("AMQP URL vhost \"" + path + "\" has a bad %-escape");
      vhost += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      vhost += path[i];
    }
  }
  return vhost;
}

TriggerScalerFactory::TriggerScalerFactory(kube::ResourceClient& client, std::shared_ptr<scalers::HttpGetter> http,
                                           const Clock& clock, TriggerScalerFactoryOptions options)
    : client_(client), http_(std::move(http)), clock_(clock), options_(std::move(options)) {}

Result<std::string> TriggerScalerFactory::secretValue(const std::string& ns, const std::string& name,
                                                      const std::string& key, const std::string& field) {
  Result<json> secret = client_.get(kube::resources::kSecrets, ns, name);
  if (!secret.isOk()) return secret.status().withContext(field + ": Secret " + ns + "/" + name);
  const json* data = secret->contains("data") && (*secret)["data"].is_object() ? &(*secret)["data"] : nullptr;
  if (!data || !data->contains(key) || !(*data)[key].is_string()) {
    return Status(StatusCode::kNotFound, field + ": Secret " + ns + "/" + name + " has no key " + key);
  }
  Result<std::string> decoded = base64Decode((*data)[key].get<std::string>());
  if (!decoded.isOk()) return decoded.status().withContext(field + ": Secret " + ns + "/" + name + " key " + key);
  return *decoded;
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::create(const json& trigger) {
  const std::string ns = trigger.value("/metadata/namespace"_json_pointer, std::string());
  const std::string type = triggerSourceType(trigger);
  try {
    const json& spec = trigger.at("spec");
    if (type == "kafka") return kafka(spec.at("kafka"), ns);
    if (type == "rabbitmq") return rabbitmq(spec.at("rabbitmq"), ns);
    if (type == "objectStore") return objectStore(spec.at("objectStore"), ns);
    if (type == "cron") {
      const json& c = spec.at("cron");
      scalers::CronTickOptions options{c.at("schedule").get<std::string>(), c.value("timezone", std::string("UTC")),
                                       c.value("replicas", 0), c.value("windowSeconds", 0), nullptr};
      if (options_.cronSettledBefore) {
        const std::string name = trigger.value("/metadata/name"_json_pointer, std::string());
        options.settledBefore = [lookup = options_.cronSettledBefore, ns, name] { return lookup(ns, name); };
      }
      auto scaler = scalers::CronTickScaler::create(std::move(options), clock_);
      if (!scaler.isOk()) return scaler.status().withContext("spec.cron");
      return std::unique_ptr<scalers::Scaler>(std::move(*scaler));
    }
    if (type == "prometheus") {
      const json& p = spec.at("prometheus");
      scalers::PrometheusOptions options;
      options.serverAddress = p.at("serverAddress").get<std::string>();
      options.query = p.at("query").get<std::string>();
      options.threshold = p.at("threshold").get<double>();
      options.activationThreshold = p.value("activationThreshold", 0.0);
      if (!(options.threshold > 0)) {
        return invalidArgument("spec.prometheus.threshold: " + p.at("threshold").dump() + " must be greater than 0");
      }
      return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::PrometheusScaler>(std::move(options), http_));
    }
    if (type == "http") {
      if (!options_.gatewayLoadsUrls) return std::unique_ptr<scalers::Scaler>();
      scalers::HttpRequestsOptions options;
      options.ns = ns;
      options.function = trigger.value("/spec/functionRef/name"_json_pointer, std::string());
      const json& http = spec.at("http");
      options.targetConcurrency =
          http.contains("targetConcurrency")
              ? http["targetConcurrency"].get<double>()
              : (options_.functionConcurrency ? options_.functionConcurrency(ns, options.function) : 1);
      if (!(options.targetConcurrency > 0)) {
        return invalidArgument("spec.http.targetConcurrency: must be greater than 0");
      }
      options.gatewayLoadsUrls = options_.gatewayLoadsUrls;
      return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::HttpRequestsScaler>(std::move(options), http_));
    }
    return invalidArgument("spec: no source (kafka, rabbitmq, cron, http, objectStore or prometheus)");
  } catch (const json::exception& e) {
    return invalidArgument("spec." + type + ": " + e.what());
  }
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::createCpu(const json& function) {
  if (!options_.replicaMetricsUrls) return std::unique_ptr<scalers::Scaler>();
  const json& target = function.value("/spec/scaling/cpuTargetUtilization"_json_pointer, json());
  if (!target.is_number() || !(target.get<double>() > 0)) {
    return invalidArgument("spec.scaling.cpuTargetUtilization: " + target.dump() + " must be a positive percentage");
  }
  // Utilization is usage over the request, as the HPA has it: no request, no utilization.
  const json& request = function.value("/spec/resources/requests/cpu"_json_pointer, json());
  if (request.is_null()) {
    return invalidArgument("spec.resources.requests.cpu: is required with spec.scaling.cpuTargetUtilization");
  }
  Result<double> cores = scalers::parseCpuQuantity(request.is_string() ? request.get<std::string>() : request.dump());
  if (!cores.isOk()) return cores.status().withContext("spec.resources.requests.cpu");
  const std::string ns = function.value("/metadata/namespace"_json_pointer, std::string());
  const std::string name = function.value("/metadata/name"_json_pointer, std::string());
  scalers::RuntimeCpuOptions options;
  options.targetUtilizationPercent = target.get<double>();
  options.requestedCores = *cores;
  options.metricsUrls = [urls = options_.replicaMetricsUrls, ns, name] { return urls(ns, name); };
  auto own = std::make_unique<scalers::RuntimeCpuScaler>(std::move(options), http_, clock_);
  if (!options_.replicaPodNames) return std::unique_ptr<scalers::Scaler>(std::move(own));
  scalers::MetricsApiCpuOptions api;
  api.ns = ns;
  api.labelSelector = "sluice.io/function=" + name;
  api.targetUtilizationPercent = target.get<double>();
  api.requestedCores = *cores;
  api.readyPods = [pods = options_.replicaPodNames, ns, name] { return pods(ns, name); };
  return std::unique_ptr<scalers::Scaler>(
      std::make_unique<scalers::MetricsApiCpuScaler>(std::move(api), client_, std::move(own), clock_));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::kafka(const json& k, const std::string& ns) {
  scalers::KafkaLagOptions options;
  options.consumerGroup = k.at("consumerGroup").get<std::string>();
  for (const json& topic : k.at("topics")) options.topics.push_back(topic.get<std::string>());
  options.lagThreshold = k.value("lagThreshold", int64_t{10});
  options.activationLagThreshold = k.value("activationLagThreshold", int64_t{0});
  std::string initial = k.value("initialOffset", std::string("latest"));
  if (initial != "latest" && initial != "earliest") {
    return invalidArgument("spec.kafka.initialOffset: \"" + initial + "\" is not earliest or latest");
  }
  options.offsetResetPolicy =
      initial == "earliest" ? scalers::OffsetResetPolicy::kEarliest : scalers::OffsetResetPolicy::kLatest;
  options.allowIdleConsumers = k.value("allowIdleConsumers", false);
  options.limitToPartitionsWithLag = k.value("limitToPartitionsWithLag", false);
  options.excludePersistentLag = k.value("excludePersistentLag", false);
  if (options.lagThreshold < 1) {
    return invalidArgument("spec.kafka.lagThreshold: " + std::to_string(options.lagThreshold) + " must be at least 1");
  }

  std::map<std::string, std::string> config;
  const bool sasl = k.contains("sasl");
  const bool tls = k.contains("tls");
  config["security.protocol"] = std::string(sasl ? "SASL_" : "") + (tls ? "SSL" : "PLAINTEXT");
  if (sasl) {
    const json& s = k["sasl"];
    const std::string secret = s.at("secretRef").at("name").get<std::string>();
    config["sasl.mechanisms"] = s.at("mechanism").get<std::string>();
    for (const char* key : {"username", "password"}) {
      auto value = secretValue(ns, secret, key, "spec.kafka.sasl.secretRef");
      if (!value.isOk()) return value.status();
      config[std::string("sasl.") + key] = *value;
    }
  }
  if (tls && k["tls"].contains("secretRef")) {
    const std::string secret = k["tls"]["secretRef"].at("name").get<std::string>();
    std::vector<std::pair<std::string, std::string>> files{{"ca.crt", "ssl.ca.pem"}};
    if (k["tls"].value("mutual", false)) {
      files.emplace_back("tls.crt", "ssl.certificate.pem");
      files.emplace_back("tls.key", "ssl.key.pem");
    }
    for (const auto& [key, property] : files) {
      auto value = secretValue(ns, secret, key, "spec.kafka.tls.secretRef");
      if (!value.isOk()) return value.status();
      config[property] = *value;
    }
  }
  auto source = scalers::RdKafkaOffsetSource::create(joinStrings(k.at("bootstrapServers"), ","), config,
                                                     options_.kafkaTimeoutMilliseconds);
  if (!source.isOk()) return source.status().withContext("spec.kafka");
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::KafkaLagScaler>(std::move(options), *source));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::rabbitmq(const json& r, const std::string& ns) {
  const json& ref = r.at("connectionSecretRef");
  const std::string secret = ref.at("name").get<std::string>();
  const std::string field = "spec.rabbitmq.connectionSecretRef";
  const std::string managementKey = ref.value("managementKey", std::string("managementUrl"));
  const std::string urlKey = ref.value("key", std::string("url"));
  scalers::RabbitMQQueueOptions options;
  auto management = secretValue(ns, secret, managementKey, field);
  if (management.isOk()) {
    options.managementUrl = *management;
  } else if (management.status().code() != StatusCode::kNotFound ||
             management.status().message().find("has no key") == std::string::npos) {
    return management.status();
  }
  // The AMQP URL gives the vhost and a passive queue.declare, current at once
  // where the management API's counters lag by seconds.
  std::unique_ptr<scalers::QueueDepthProbe> probe;
  auto amqp = secretValue(ns, secret, urlKey, field);
  if (amqp.isOk()) {
    auto vhost = amqpVhost(*amqp);
    if (!vhost.isOk()) return vhost.status().withContext(field);
    options.vhost = *vhost;
    probe = std::make_unique<scalers::AmqpQueueDepth>(*amqp, r.at("queue").get<std::string>());
  } else if (amqp.status().code() != StatusCode::kNotFound ||
             amqp.status().message().find("has no key") == std::string::npos) {
    return amqp.status();
  }
  if (options.managementUrl.empty() && !probe) {
    return Status(StatusCode::kNotFound, field + ": Secret " + ns + "/" + secret + " has neither key " + urlKey +
                                             " (AMQP URL) nor " + managementKey + " (management API URL)");
  }
  options.queue = r.at("queue").get<std::string>();
  std::string depth = r.value("depthMetric", std::string("messages"));
  if (depth != "messages" && depth != "messagesReady") {
    return invalidArgument("spec.rabbitmq.depthMetric: \"" + depth + "\" is not messages or messagesReady");
  }
  options.mode = depth == "messages" ? scalers::RabbitMQQueueOptions::Mode::kMessages
                                     : scalers::RabbitMQQueueOptions::Mode::kMessagesReady;
  options.queueLength = static_cast<double>(r.value("queueLength", int64_t{20}));
  options.activationQueueLength = static_cast<double>(r.value("activationQueueLength", int64_t{0}));
  if (options.queueLength < 1) {
    return invalidArgument("spec.rabbitmq.queueLength: " + r["queueLength"].dump() + " must be at least 1");
  }
  return std::unique_ptr<scalers::Scaler>(
      std::make_unique<scalers::RabbitMQQueueScaler>(std::move(options), http_, std::move(probe)));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::objectStore(const json& o, const std::string& ns) {
  scalers::ObjectCountOptions options;
  options.targetObjectCount = static_cast<double>(o.value("targetObjectCount", int64_t{5}));
  options.activationTargetObjectCount = static_cast<double>(o.value("activationObjectCount", int64_t{0}));
  options.scanCap = o.value("maxObjectsToScan", int64_t{1000});
  if (options.targetObjectCount < 1) {
    return invalidArgument("spec.objectStore.targetObjectCount: " + o["targetObjectCount"].dump() +
                           " must be at least 1");
  }
  const std::string type = o.at("type").get<std::string>();
  std::shared_ptr<scalers::ObjectCounter> counter;
  if (type == "s3") {
    scalers::S3Location location;
    location.endpoint = o.at("endpoint").get<std::string>();
    location.bucket = o.at("bucket").get<std::string>();
    location.prefix = o.value("prefix", std::string());
    location.credentials.region = o.value("region", std::string("us-east-1"));
    if (o.contains("credentialsSecretRef")) {
      const std::string secret = o["credentialsSecretRef"].at("name").get<std::string>();
      auto access = secretValue(ns, secret, "accessKey", "spec.objectStore.credentialsSecretRef");
      if (!access.isOk()) return access.status();
      auto key = secretValue(ns, secret, "secretKey", "spec.objectStore.credentialsSecretRef");
      if (!key.isOk()) return key.status();
      location.credentials.accessKey = *access;
      location.credentials.secretKey = *key;
    }
    counter = std::make_shared<scalers::S3ObjectCounter>(std::move(location), http_, clock_);
  } else if (type == "dir") {
    counter = std::make_shared<scalers::DirectoryObjectCounter>(o.at("path").get<std::string>(),
                                                                o.value("prefix", std::string()), false);
  } else if (type == "webhdfs") {
    counter = std::make_shared<scalers::WebHdfsObjectCounter>(
        o.at("endpoint").get<std::string>(), o.at("path").get<std::string>(), o.value("user", std::string()), http_);
  } else {
    return invalidArgument("spec.objectStore.type: \"" + type + "\" is not s3, dir or webhdfs");
  }
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::ObjectCountScaler>(options, std::move(counter)));
}

}  // namespace sluice::controllers
