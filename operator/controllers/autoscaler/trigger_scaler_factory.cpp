#include "controllers/autoscaler/trigger_scaler_factory.h"

#include <map>

#include "api/pods.h"
#include "api/v1alpha1/fields.h"
#include "api/v1alpha1/function.h"
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
#include "spec/amqp_tls.h"
#include "spec/kafka_client_settings.h"

namespace sluice::controllers {

using nlohmann::json;

std::string triggerSourceType(const json& trigger) {
  if (!trigger.is_object() || !trigger.contains("spec")) return "";
  return api::v1alpha1::sourceTypeOf(trigger["spec"]);
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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

TriggerScalerFactory::TriggerScalerFactory(kube::ResourceClient& client, std::shared_ptr<http::HttpClient> http,
                                           const Clock& clock, TriggerScalerFactoryOptions options)
    : client_(client),
      http_(http::withResponseLimit(std::move(http), options.maxResponseBytes)),
      replicaHttp_(options.replicaTrustedCertificates
                       ? http::withResponseLimit(http::makeTlsHttpClient(options.replicaTrustedCertificates),
                                                 options.maxResponseBytes)
                       : http_),
      clock_(clock),
      options_(std::move(options)) {}

Result<std::string> TriggerScalerFactory::secretValue(const std::string& ns, const std::string& name,
                                                      const std::string& key, const std::string& field) {
  Result<json> secret = client_.get(kube::resources::kSecrets, ns, name);
  if (!secret.isOk()) return secret.status().withContext(field + ": Secret " + ns + "/" + name);
  // Checked before any key is read, so no credential of a Secret that did not opt in leaves this function.
  if (std::string refusal = api::v1alpha1::scalerAccessRefusal(*secret, ns, field); !refusal.empty()) {
    return Status(StatusCode::kPermissionDenied, refusal);
  }
  const json* data = secret->contains("data") && (*secret)["data"].is_object() ? &(*secret)["data"] : nullptr;
  if (!data || !data->contains(key) || !(*data)[key].is_string()) {
    return Status(StatusCode::kNotFound, field + ": Secret " + ns + "/" + name + " has no key " + key);
  }
  Result<std::string> decoded = base64Decode((*data)[key].get<std::string>());
  if (!decoded.isOk()) return decoded.status().withContext(field + ": Secret " + ns + "/" + name + " key " + key);
  return *decoded;
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::create(const json& object) {
  Result<api::v1alpha1::Trigger> trigger = api::v1alpha1::Trigger::fromJson(object);
  if (!trigger.isOk()) return trigger.status();
  const std::string& ns = trigger->ns;
  if (trigger->kafka) return kafka(*trigger->kafka, ns, "spec.kafka", trigger->functionName);
  if (trigger->rabbitmq) return rabbitmq(*trigger->rabbitmq, ns);
  if (trigger->objectStore) return objectStore(*trigger->objectStore, ns);
  if (trigger->cron) return cron(*trigger);
  if (trigger->prometheus) return prometheus(*trigger->prometheus);
  return httpRequests(*trigger);
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::cron(const api::v1alpha1::Trigger& trigger) {
  const api::v1alpha1::CronSource& c = *trigger.cron;
  scalers::CronTickOptions options{c.schedule, c.timezone, c.replicas, c.windowSeconds, nullptr};
  if (options_.cronSettledBefore) {
    options.settledBefore = [lookup = options_.cronSettledBefore, ns = trigger.ns, name = trigger.name] {
      return lookup(ns, name);
    };
  }
  auto scaler = scalers::CronTickScaler::create(std::move(options), clock_);
  if (!scaler.isOk()) return scaler.status().withContext("spec.cron");
  return std::unique_ptr<scalers::Scaler>(std::move(*scaler));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::httpRequests(const api::v1alpha1::Trigger& trigger) {
  // Without the gateway's load reports there is nothing to measure.
  if (!options_.gatewayLoadsUrls) return std::unique_ptr<scalers::Scaler>();
  scalers::HttpRequestsOptions options;
  options.ns = trigger.ns;
  options.function = trigger.functionName;
  Result<std::optional<api::v1alpha1::HttpScalingTarget>> target =
      api::v1alpha1::httpScalingTargetOf(json{{"http", trigger.http}});
  if (!target.isOk()) return target.status();
  options.requestsPerSecond = (*target)->metric == api::v1alpha1::HttpScalingTarget::Metric::kRequestsPerSecond;
  options.target = (*target)->perReplica;
  if (options.target == 0) {
    options.target = options_.functionConcurrency ? options_.functionConcurrency(trigger.ns, trigger.functionName) : 1;
  }
  if (!(options.target > 0)) return invalidArgument("spec.http.targetConcurrency: must be greater than 0");
  if (trigger.httpAsync) {
    // Queued asynchronous invocations are waiting requests: measured as a RabbitMQ trigger's depth.
    Result<std::unique_ptr<scalers::Scaler>> backlog = rabbitmq(*trigger.httpAsync, trigger.ns);
    if (!backlog.isOk()) return backlog.status().withContext("spec.http.async");
    options.backlog = std::move(*backlog);
  }
  if (trigger.httpAsyncKafka) {
    // Or, kept in a Kafka topic: the replicas' consumer lag on it.
    Result<std::unique_ptr<scalers::Scaler>> backlog =
        kafka(*trigger.httpAsyncKafka, trigger.ns, "spec.http.async.kafka");
    if (!backlog.isOk()) return backlog.status();
    options.backlog = std::move(*backlog);
  }
  options.gatewayLoadsUrls = options_.gatewayLoadsUrls;
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::HttpRequestsScaler>(std::move(options), http_));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::prometheus(const api::v1alpha1::PrometheusSource& p) {
  if (Status s = options_.allowedEndpoints.check(p.serverAddress, "spec.prometheus.serverAddress"); !s.isOk()) return s;
  scalers::PrometheusOptions options;
  options.serverAddress = p.serverAddress;
  options.query = p.query;
  options.threshold = p.threshold;
  options.activationThreshold = p.activationThreshold;
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::PrometheusScaler>(std::move(options), http_));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::createCpu(const json& object) {
  if (!options_.replicaMetricsUrls) return std::unique_ptr<scalers::Scaler>();
  Result<api::v1alpha1::Function> function = api::v1alpha1::Function::fromJson(object);
  if (!function.isOk()) return function.status();
  const std::optional<int>& target = function->scaling.targetCPUUtilizationPercentage;
  if (!target || *target <= 0) {
    return invalidArgument("spec.scaling.cpuTargetUtilization: " + (target ? std::to_string(*target) : "null") +
                           " must be a positive percentage");
  }
  // Utilization is usage over the request, as the HPA has it: no request, no utilization.
  const json& request = function->cpuRequest;
  if (request.is_null()) {
    return invalidArgument("spec.resources.requests.cpu: is required with spec.scaling.cpuTargetUtilization");
  }
  Result<double> cores = scalers::parseCpuQuantity(request.is_string() ? request.get<std::string>() : request.dump());
  if (!cores.isOk()) return cores.status().withContext("spec.resources.requests.cpu");
  const std::string& ns = function->metadata.ns;
  const std::string& name = function->metadata.name;
  scalers::RuntimeCpuOptions options;
  options.targetUtilizationPercent = *target;
  options.requestedCores = *cores;
  options.metricsUrls = [urls = options_.replicaMetricsUrls, ns, name] { return urls(ns, name); };
  options.tlsServerName = api::controlServerName(ns);
  auto own = std::make_unique<scalers::RuntimeCpuScaler>(std::move(options), replicaHttp_, clock_);
  if (!options_.replicaPodNames) return std::unique_ptr<scalers::Scaler>(std::move(own));
  scalers::MetricsApiCpuOptions api;
  api.ns = ns;
  api.labelSelector = "sluice.io/function=" + name;
  api.targetUtilizationPercent = *target;
  api.requestedCores = *cores;
  api.readyPods = [pods = options_.replicaPodNames, ns, name] { return pods(ns, name); };
  return std::unique_ptr<scalers::Scaler>(
      std::make_unique<scalers::MetricsApiCpuScaler>(std::move(api), client_, std::move(own), clock_));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::kafka(const api::v1alpha1::KafkaSource& k,
                                                                     const std::string& ns, const std::string& path,
                                                                     const std::string& function) {
  scalers::KafkaLagOptions options;
  options.consumerGroup = k.consumerGroup;
  options.topics = k.topics;
  options.lagThreshold = k.lagThreshold;
  options.activationLagThreshold = k.activationLagThreshold;
  options.offsetResetPolicy =
      k.initialOffset == "earliest" ? scalers::OffsetResetPolicy::kEarliest : scalers::OffsetResetPolicy::kLatest;
  options.allowIdleConsumers = k.allowIdleConsumers;
  options.limitToPartitionsWithLag = k.limitToPartitionsWithLag;
  options.excludePersistentLag = k.excludePersistentLag;
  if (!function.empty() && options_.replicaMetricsUrls) {
    scalers::ReplicaCountersOptions counters;
    counters.metricsUrls = [urls = options_.replicaMetricsUrls, ns, function] { return urls(ns, function); };
    counters.tlsServerName = api::controlServerName(ns);
    options.replicaCounters = [counters, http = replicaHttp_] { return scalers::readReplicaCounters(counters, *http); };
  }

  for (const std::string& server : k.bootstrapServers) {
    if (Status s = options_.allowedEndpoints.check(server, path + ".bootstrapServers"); !s.isOk()) return s;
  }
  auto settings = spec::kafkaClientSettings(k, path, [this, &ns](const api::v1alpha1::SecretKey& need) {
    return secretValue(ns, need.secret, need.key, need.field);
  });
  if (!settings.isOk()) return settings.status();
  auto source = kafkaClients_.acquire(*settings, options_.kafkaTimeoutMilliseconds);
  if (!source.isOk()) return source.status().withContext(path);
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::KafkaLagScaler>(std::move(options), *source));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::rabbitmq(const api::v1alpha1::RabbitMqSource& r,
                                                                        const std::string& ns) {
  const std::string& secret = r.connectionSecretName;
  const std::string field = "spec.rabbitmq.connectionSecretRef";
  const std::string& managementKey = r.managementUrlKey;
  const std::string& urlKey = r.urlKey;
  scalers::RabbitMQQueueOptions options;
  auto management = secretValue(ns, secret, managementKey, field);
  if (management.isOk()) {
    if (Status s = options_.allowedEndpoints.check(*management, field + " " + managementKey); !s.isOk()) return s;
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
    if (Status s = options_.allowedEndpoints.check(*amqp, field + " " + urlKey); !s.isOk()) return s;
    auto vhost = amqpVhost(*amqp);
    if (!vhost.isOk()) return vhost.status().withContext(field);
    options.vhost = *vhost;
    auto tls = spec::amqpTls(r, "spec.rabbitmq", [this, &ns](const api::v1alpha1::SecretKey& need) {
      return secretValue(ns, need.secret, need.key, need.field);
    });
    if (!tls.isOk()) return tls.status();
    probe = std::make_unique<scalers::AmqpQueueDepth>(*amqp, std::move(tls).value(), r.queue);
  } else if (amqp.status().code() != StatusCode::kNotFound ||
             amqp.status().message().find("has no key") == std::string::npos) {
    return amqp.status();
  }
  if (options.managementUrl.empty() && !probe) {
    return Status(StatusCode::kNotFound, field + ": Secret " + ns + "/" + secret + " has neither key " + urlKey +
                                             " (AMQP URL) nor " + managementKey + " (management API URL)");
  }
  options.queue = r.queue;
  options.mode = r.depthMetric == "messages" ? scalers::RabbitMQQueueOptions::Mode::kMessages
                                             : scalers::RabbitMQQueueOptions::Mode::kMessagesReady;
  options.queueLength = static_cast<double>(r.queueLength);
  options.activationQueueLength = static_cast<double>(r.activationQueueLength);
  return std::unique_ptr<scalers::Scaler>(
      std::make_unique<scalers::RabbitMQQueueScaler>(std::move(options), http_, std::move(probe)));
}

Result<std::unique_ptr<scalers::Scaler>> TriggerScalerFactory::objectStore(const api::v1alpha1::ObjectStoreSource& o,
                                                                           const std::string& ns) {
  scalers::ObjectCountOptions options;
  options.targetObjectCount = static_cast<double>(o.targetObjectCount);
  options.activationTargetObjectCount = static_cast<double>(o.activationObjectCount);
  options.scanCap = o.maxObjectsToScan;
  std::shared_ptr<scalers::ObjectCounter> counter;
  if (o.type == "s3" || o.type == "webhdfs") {
    if (Status s = options_.allowedEndpoints.check(o.endpoint, "spec.objectStore.endpoint"); !s.isOk()) return s;
  }
  if (o.type == "s3") {
    scalers::S3Location location;
    location.endpoint = o.endpoint;
    location.bucket = o.bucket;
    location.prefix = o.prefix;
    location.credentials.region = o.region;
    if (!o.credentialsSecretName.empty()) {
      const std::string field = "spec.objectStore.credentialsSecretRef";
      auto access = secretValue(ns, o.credentialsSecretName, "accessKey", field);
      if (!access.isOk()) return access.status();
      auto key = secretValue(ns, o.credentialsSecretName, "secretKey", field);
      if (!key.isOk()) return key.status();
      location.credentials.accessKey = *access;
      location.credentials.secretKey = *key;
    }
    counter = std::make_shared<scalers::S3ObjectCounter>(std::move(location), http_, clock_);
  } else if (o.type == "dir") {
    counter = std::make_shared<scalers::DirectoryObjectCounter>(o.path, o.prefix, false);
  } else {  // webhdfs (the API layer admits no other type)
    counter = std::make_shared<scalers::WebHdfsObjectCounter>(o.endpoint, o.path, o.user, http_);
  }
  return std::unique_ptr<scalers::Scaler>(std::make_unique<scalers::ObjectCountScaler>(options, std::move(counter)));
}

std::function<int(const std::string&, const std::string&)> functionConcurrencyIn(const kube::ObjectCache& functions) {
  return [&functions](const std::string& ns, const std::string& name) {
    kube::ObjectPtr function = functions.get(kube::objectKey(ns, name));
    return function ? function->value("/spec/concurrency"_json_pointer, 1) : 1;
  };
}

}  // namespace sluice::controllers
