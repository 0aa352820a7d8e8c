#include "runtime/control/wiring.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <type_traits>

#include "clients/amqp_connection.h"
#include "clients/kafka_config.h"
#include "common/encoding.h"
#include "common/memory_limit.h"
#include "http/http_client.h"
#include "objectstore/s3_client.h"
#include "runtime/control/rabbitmq_mirror_wiring.h"
#include "runtime/handlers/make_handler.h"
#include "runtime/memory/in_flight_budget.h"
#include "runtime/memory/memory_watchdog.h"
#include "runtime/sinks/dir_sink.h"
#include "runtime/sinks/http_sink.h"
#include "runtime/sinks/kafka_sink.h"
#include "runtime/sinks/rabbitmq_sink.h"
#include "runtime/sinks/s3_sink.h"
#include "runtime/sources/dir_source.h"
#include "runtime/sources/kafka_source.h"
#include "runtime/sources/rabbitmq_source.h"
#include "runtime/sources/s3_source.h"
#include "runtime/sources/webhdfs_source.h"

namespace sluice::runtime {

namespace {

Result<std::string> fromEnv(const std::string& variable, const std::string& field) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) return invalidArgument(field + ": environment variable " + variable + " is not set");
  return std::string(value);
}

// librdkafka properties for TLS/SASL, with credentials read from the environment.
Result<std::map<std::string, std::string>> kafkaProperties(const config::KafkaSecurityConfig& security,
                                                           const std::map<std::string, std::string>& extra,
                                                           const std::string& where) {
  clients::KafkaSecurity settings;
  settings.protocol = security.protocol;
  settings.saslMechanism = security.saslMechanism;
  if (!security.saslMechanism.empty()) {
    auto user = fromEnv(security.usernameEnv, where + ".security.usernameEnv");
    if (!user.isOk()) return user.status();
    auto password = fromEnv(security.passwordEnv, where + ".security.passwordEnv");
    if (!password.isOk()) return password.status();
    settings.saslUsername = *user;
    settings.saslPassword = *password;
  }
  settings.caFile = security.caFile;
  settings.certificateFile = security.certFile;
  settings.keyFile = security.keyFile;
  if (!security.keyPasswordEnv.empty()) {
    auto password = fromEnv(security.keyPasswordEnv, where + ".security.keyPasswordEnv");
    if (!password.isOk()) return password.status();
    settings.keyPassword = *password;
  }
  return clients::kafkaProperties(settings, extra);
}

// An S3 client with credentials read from the environment.
Result<std::shared_ptr<objectstore::S3Client>> s3Client(const std::string& endpoint, const std::string& region,
                                                        const std::string& bucket, bool pathStyle,
                                                        const std::string& accessKeyEnv,
                                                        const std::string& secretKeyEnv, const std::string& where) {
  auto accessKey = fromEnv(accessKeyEnv, where + ".accessKeyEnv");
  if (!accessKey.isOk()) return accessKey.status();
  auto secretKey = fromEnv(secretKeyEnv, where + ".secretKeyEnv");
  if (!secretKey.isOk()) return secretKey.status();
  objectstore::S3Options options;
  options.endpoint = endpoint;
  options.bucket = bucket;
  options.pathStyle = pathStyle;
  options.credentials.accessKey = *accessKey;
  options.credentials.secretKey = *secretKey;
  options.credentials.region = region;
  // The real clock only dates signatures, no timers.
  return std::make_shared<objectstore::S3Client>(std::move(options), http::makeCppRestHttpClient(), realClock());
}

// The Kafka topic a trigger reads: a kafka trigger's, or an http trigger's asynchronous invocations; null for none.
const config::KafkaSourceConfig* kafkaTopicOf(const config::TriggerConfig& trigger) {
  if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) return kafka;
  const auto* http = std::get_if<config::HttpSourceConfig>(&trigger.source);
  return http != nullptr && http->asyncKafka ? &*http->asyncKafka : nullptr;
}

}  // namespace

Result<std::string> amqpUrl(const config::AmqpConnectionConfig& connection, const std::string& where) {
  std::string url = connection.url;
  if (!connection.urlEnv.empty()) {
    auto value = fromEnv(connection.urlEnv, where + ".urlEnv");
    if (!value.isOk()) return value.status();
    url = *value;
  }
  if (connection.usernameEnv.empty() && connection.passwordEnv.empty()) return url;
  std::string user;
  std::string password;
  if (!connection.usernameEnv.empty()) {
    auto value = fromEnv(connection.usernameEnv, where + ".usernameEnv");
    if (!value.isOk()) return value.status();
    user = *value;
  }
  if (!connection.passwordEnv.empty()) {
    auto value = fromEnv(connection.passwordEnv, where + ".passwordEnv");
    if (!value.isOk()) return value.status();
    password = *value;
  }
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return invalidArgument(where + ".url: not an amqp:// URL");
  size_t hostStart = scheme + 3;
  size_t authorityEnd = url.find('/', hostStart);
  if (auto at = url.rfind('@', authorityEnd); at != std::string::npos && at >= hostStart) hostStart = at + 1;
  return url.substr(0, scheme + 3) +
         // RFC 3986 userinfo escaping: amqp_parse_url percent-decodes user and password.
         percentEncode(user) + ":" + percentEncode(password) + "@" + url.substr(hostStart);
}

Result<clients::AmqpTls> amqpTls(const config::AmqpConnectionConfig& connection, const std::string& where) {
  clients::AmqpTls tls;
  for (auto [env, field, pem] : {std::tuple{&connection.tlsCaEnv, ".tlsCaEnv", &tls.caPem},
                                 std::tuple{&connection.tlsCertEnv, ".tlsCertEnv", &tls.certificatePem},
                                 std::tuple{&connection.tlsKeyEnv, ".tlsKeyEnv", &tls.keyPem}}) {
    if (env->empty()) continue;
    auto value = fromEnv(*env, where + field);
    if (!value.isOk()) return value.status();
    *pem = std::move(value).value();
  }
  return tls;
}

namespace {

BackoffPolicy backoffPolicy(const config::BackoffConfig& backoff) {
  return BackoffPolicy{backoff.initialDelay, backoff.maxDelay, backoff.multiplier, backoff.jitter};
}

}  // namespace

DeliveryOptions deliveryOptionsFor(const config::FunctionConfig& function) {
  DeliveryOptions options;
  options.functionName = function.name;
  // As many handler calls at once as the Function's concurrency (the Python
  // handler runs that many, each on its own thread; lanes keep their order),
  // but more workers than that let backoff waits of one partition overlap
  // others' work.
  options.workers = std::max(4, function.concurrency);
  options.handlerConcurrency = function.concurrency;
  options.maxAttempts = function.retry.maxAttempts;
  options.backoff = backoffPolicy(function.retry.backoff);
  options.handlerTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(function.timeout);
  options.handlerHealthy = handlersHealthy;
  options.memoryPressure = memoryOverThreshold;
  int maxInFlight = 0;
  for (const auto& trigger : function.triggers) {
    if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) {
      maxInFlight += kafka->maxInFlight;
      if (kafka->batchSize > 1) options.listTriggers.insert(trigger.name);
    }
    if (const auto* rabbit = std::get_if<config::RabbitMqSourceConfig>(&trigger.source)) {
      maxInFlight += rabbit->prefetch;
      if (rabbit->maxAttempts) options.maxAttemptsByTrigger[trigger.name] = *rabbit->maxAttempts;
    }
    if (trigger.retry) {
      // The Trigger's spec.delivery.retry, rendered whole (over the Function's spec.retry).
      options.maxAttemptsByTrigger[trigger.name] = trigger.retry->maxAttempts;
      options.backoffByTrigger[trigger.name] = backoffPolicy(trigger.retry->backoff);
    }
    if (const auto* http = std::get_if<config::HttpSourceConfig>(&trigger.source)) {
      if (http->async) maxInFlight += http->async->prefetch;
      if (http->asyncKafka) maxInFlight += http->asyncKafka->maxInFlight;
    }
    if (std::holds_alternative<config::ObjectStoreSourceConfig>(trigger.source)) {
      maxInFlight += DirSourceOptions{}.maxInFlight;
    }
  }
  options.maxInFlight = maxInFlight > 0 ? maxInFlight : 100;
  for (const auto& [name, bytes] : triggerByteBudgets(function)) {
    const config::TriggerConfig* trigger = nullptr;
    for (const auto& each : function.triggers) {
      if (each.name == name) trigger = &each;
    }
    // A Kafka trigger's prefetch queue takes part of its budget (kafkaBudgetShares).
    const bool kafka = trigger != nullptr && kafkaTopicOf(*trigger) != nullptr;
    options.maxInFlightBytes += kafka ? kafkaBudgetShares(bytes).deliveryBytes : bytes;
  }
  return options;
}

std::map<std::string, int64_t> triggerByteBudgets(const config::FunctionConfig& function) {
  const int64_t memoryMebibytes = function.memoryLimitMb > 0 ? function.memoryLimitMb : memoryLimitMebibytes();
  const int64_t total = defaultInFlightBytes(memoryMebibytes);
  int64_t unset = 0;
  for (const auto& trigger : function.triggers) unset += trigger.maxInFlightBytes > 0 ? 0 : 1;
  std::map<std::string, int64_t> budgets;
  for (const auto& trigger : function.triggers) {
    budgets[trigger.name] =
        trigger.maxInFlightBytes > 0 ? trigger.maxInFlightBytes : std::max<int64_t>(total / unset, kMebibyte);
  }
  return budgets;
}

KafkaSourceOptions kafkaSourceOptions(const config::TriggerConfig& trigger, const config::KafkaSourceConfig& kafka,
                                      const config::FunctionConfig& function) {
  KafkaSourceOptions options;
  options.triggerName = trigger.name;
  options.bootstrapServers = kafka.bootstrapServers;
  options.topics = kafka.topics;
  options.consumerGroup = kafka.consumerGroup;
  options.initialOffset = kafka.initialOffset;
  // batchSize > 1: each batch goes to the handler as one list, so no batch may be larger.
  if (kafka.batchSize > 1) options.maxBatch = kafka.batchSize;
  options.ordered = kafka.ordered;
  options.unorderedBatch = static_cast<size_t>(kafka.batchSize);
  // maxInFlight is what the user lets a replica hold uncommitted, so a kill may
  // replay that many; above the default bound of finished-but-unconfirmed
  // records it raises it. Held at 500, a mirror with maxInFlight 50,000 copied
  // 62-73 k records/s, one confirmation round trip per 500; raised, 187-199 k
  // (bench/mirror).
  options.maxUnconfirmed = std::max<int64_t>(options.maxUnconfirmed, kafka.maxInFlight);
  const auto budgets = triggerByteBudgets(function);
  if (auto budget = budgets.find(trigger.name); budget != budgets.end()) {
    options.prefetchBytes = kafkaBudgetShares(budget->second).prefetchBytes;
  }
  return options;
}

namespace {

// A Kafka topic: a kafka Trigger's, or the asynchronous invocations of an http Trigger (`where` names the field).
Result<std::unique_ptr<Source>> buildKafkaSource(const config::TriggerConfig& trigger,
                                                 const config::KafkaSourceConfig& kafka,
                                                 const config::FunctionConfig& function, RuntimeMetrics& metrics,
                                                 Clock& clock, const std::string& where, bool httpInvocations) {
  auto properties = kafkaProperties(kafka.security, kafka.properties, where);
  if (!properties.isOk()) return properties.status();
  KafkaSourceOptions options = kafkaSourceOptions(trigger, kafka, function);
  options.properties = std::move(properties).value();
  options.httpInvocations = httpInvocations;
  return std::unique_ptr<Source>(std::make_unique<KafkaSource>(std::move(options), metrics, clock));
}

// The routing keys `queue` is bound to `exchange` with, read from the
// management API at `managementUrl` (its user:password@ as basic auth).
std::function<Result<std::vector<std::string>>()> managementBoundKeys(const std::string& managementUrl,
                                                                      const std::string& amqpUrl,
                                                                      const std::string& queue,
                                                                      const std::string& exchange) {
  std::string base = managementUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + "/api/queues/" + percentEncode(clients::amqpVirtualHost(amqpUrl)) + "/" +
                          percentEncode(queue) + "/bindings";
  auto client = http::makeCppRestHttpClient();
  return [client, url, exchange]() -> Result<std::vector<std::string>> {
    const std::string what = "listing the bindings at " + http::withoutUserInfo(url);
    auto response = http::get(*client, url, std::chrono::seconds(10));
    if (!response.isOk()) return response.status().withContext(what);
    if (response->status != 200) return http::statusError(*response, what);
    std::vector<std::string> keys;
    try {
      for (const nlohmann::json& binding : nlohmann::json::parse(response->body)) {
        if (binding.value("source", "") == exchange) keys.push_back(binding.value("routing_key", ""));
      }
    } catch (const nlohmann::json::exception& e) {
      return internalError(what + ": bad management API answer: " + e.what());
    }
    return keys;
  };
}

// A RabbitMQ queue: a rabbitmq Trigger's, or the asynchronous invocations of an http Trigger.
Result<std::unique_ptr<Source>> buildRabbitMqSource(const std::string& triggerName,
                                                    const config::RabbitMqSourceConfig& rabbit, bool httpInvocations,
                                                    Clock& clock, const std::string& where) {
  auto url = amqpUrl(rabbit.connection, where);
  if (!url.isOk()) return url.status();
  auto tls = amqpTls(rabbit.connection, where);
  if (!tls.isOk()) return tls.status();
  RabbitMqSourceOptions options;
  options.triggerName = triggerName;
  options.url = *url;
  options.tls = std::move(tls).value();
  options.queue = rabbit.queue;
  options.exchange = rabbit.exchange;
  options.routingKeys = rabbit.routingKeys;
  // The management URL's Secret key is optional: without it bindings are only added.
  if (const char* management =
          rabbit.managementUrlEnv.empty() ? nullptr : std::getenv(rabbit.managementUrlEnv.c_str())) {
    options.boundKeys = managementBoundKeys(management, *url, rabbit.queue, rabbit.exchange);
  }
  options.prefetch = rabbit.prefetch;
  options.httpInvocations = httpInvocations;
  options.heartbeatSeconds = rabbit.connection.heartbeatSeconds;
  return std::unique_ptr<Source>(std::make_unique<RabbitMqSource>(std::move(options), clock));
}

Result<std::unique_ptr<Source>> buildDirSource(const std::string& triggerName,
                                               const config::ObjectStoreSourceConfig& store, Clock& clock,
                                               const std::string& where) {
  DirSourceOptions options;
  options.triggerName = triggerName;
  options.directory = store.prefix;
  if (store.afterProcessing == config::AfterProcessing::kMove) {
    if (store.moveToPrefix.empty()) {
      return invalidArgument(where + ".objectStore.moveToPrefix: is required with afterProcessing move");
    }
    options.afterProcessing = DirAfterProcessing::kMove;
    options.moveTo = store.moveToPrefix;
  }
  options.pollInterval = store.pollInterval;
  options.claimTtl = store.claimTtl;
  return std::unique_ptr<Source>(std::make_unique<DirSource>(std::move(options), clock));
}

Result<std::unique_ptr<Source>> buildS3Source(const std::string& triggerName,
                                              const config::ObjectStoreSourceConfig& store, Clock& clock,
                                              const std::string& where) {
  auto client = s3Client(store.endpoint, store.region, store.bucket, store.pathStyle, store.accessKeyEnv,
                         store.secretKeyEnv, where + ".objectStore");
  if (!client.isOk()) return client.status();
  S3SourceOptions options;
  options.triggerName = triggerName;
  options.prefix = store.prefix;
  switch (store.afterProcessing) {
    case config::AfterProcessing::kDelete: options.afterProcessing = S3AfterProcessing::kDelete; break;
    case config::AfterProcessing::kMove: options.afterProcessing = S3AfterProcessing::kMove; break;
    case config::AfterProcessing::kTag: options.afterProcessing = S3AfterProcessing::kTag; break;
  }
  options.moveToPrefix = store.moveToPrefix;
  options.tagKey = store.tagKey;
  options.tagValue = store.tagValue;
  options.pollInterval = store.pollInterval;
  options.claimTtl = store.claimTtl;
  return std::unique_ptr<Source>(std::make_unique<S3Source>(std::move(options), std::move(client).value(), clock));
}

Result<std::unique_ptr<Source>> buildWebHdfsSource(const std::string& triggerName,
                                                   const config::ObjectStoreSourceConfig& store, Clock& clock) {
  objectstore::WebHdfsOptions client;
  client.endpoint = store.endpoint;
  client.user = store.user;
  WebHdfsSourceOptions options;
  options.triggerName = triggerName;
  options.directory = store.prefix;
  switch (store.afterProcessing) {
    case config::AfterProcessing::kDelete: options.afterProcessing = WebHdfsAfterProcessing::kDelete; break;
    case config::AfterProcessing::kMove: options.afterProcessing = WebHdfsAfterProcessing::kMove; break;
    case config::AfterProcessing::kTag: options.afterProcessing = WebHdfsAfterProcessing::kTag; break;
  }
  options.moveTo = store.moveToPrefix;
  options.tagKey = store.tagKey;
  options.tagValue = store.tagValue;
  options.pollInterval = store.pollInterval;
  options.claimTtl = store.claimTtl;
  auto webhdfs = std::make_shared<objectstore::WebHdfsClient>(std::move(client), http::makeBeastHttpClient());
  return std::unique_ptr<Source>(std::make_unique<WebHdfsSource>(std::move(options), std::move(webhdfs), clock));
}

}  // namespace

Result<std::unique_ptr<Source>> buildSource(const config::TriggerConfig& trigger,
                                            const config::FunctionConfig& function, RuntimeMetrics& metrics,
                                            Clock& clock) {
  std::string where = "trigger \"" + trigger.name + "\"";
  if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) {
    return buildKafkaSource(trigger, *kafka, function, metrics, clock, where + ".kafka", false);
  }
  if (const auto* rabbit = std::get_if<config::RabbitMqSourceConfig>(&trigger.source)) {
    return buildRabbitMqSource(trigger.name, *rabbit, false, clock, where + ".rabbitmq");
  }
  if (const auto* store = std::get_if<config::ObjectStoreSourceConfig>(&trigger.source)) {
    switch (store->kind) {
      case config::ObjectStoreKind::kDir: return buildDirSource(trigger.name, *store, clock, where);
      case config::ObjectStoreKind::kS3: return buildS3Source(trigger.name, *store, clock, where);
      case config::ObjectStoreKind::kWebHdfs: return buildWebHdfsSource(trigger.name, *store, clock);
    }
  }
  if (const auto* http = std::get_if<config::HttpSourceConfig>(&trigger.source); http != nullptr && http->asyncKafka) {
    return buildKafkaSource(trigger, *http->asyncKafka, function, metrics, clock, where + ".http.async.kafka", true);
  }
  if (const auto* http = std::get_if<config::HttpSourceConfig>(&trigger.source); http != nullptr && http->async) {
    // Synchronous calls still come through /invoke; the queue holds the asynchronous ones.
    return buildRabbitMqSource(trigger.name, *http->async, true, clock, where + ".http.async.rabbitmq");
  }
  if (std::holds_alternative<config::HttpSourceConfig>(trigger.source) ||
      std::holds_alternative<config::CronSourceConfig>(trigger.source)) {
    return std::unique_ptr<Source>();  // pushed through /invoke
  }
  return Status(StatusCode::kFailedPrecondition, where + ": this source kind is not supported by this build yet");
}

// The mirror step of `function` and its first Kafka trigger (the source
// cluster), when it keeps or renames topics; nulls otherwise.
std::pair<const config::MirrorOperatorConfig*, const config::KafkaSourceConfig*> topicMirror(
    const config::FunctionConfig* function) {
  if (function == nullptr) return {nullptr, nullptr};
  const config::MirrorOperatorConfig* mirror = nullptr;
  for (const auto& step : function->pipeline) {
    if (const auto* m = std::get_if<config::MirrorOperatorConfig>(&step.op)) mirror = m;
  }
  const config::KafkaSourceConfig* source = nullptr;
  for (const auto& trigger : function->triggers) {
    if (source == nullptr) source = std::get_if<config::KafkaSourceConfig>(&trigger.source);
  }
  if (mirror == nullptr || mirror->rename == config::MirrorRename::kOutput || source == nullptr)
    return {nullptr, nullptr};
  return {mirror, source};
}

// For a Kafka output of a mirror that keeps or renames topics: the topic sync
// (targets created and grown), the offset-sync store and the periodic sync of
// group offsets, topic configs and lag (KafkaMirrorSync). Nothing otherwise.
Status addMirrorSync(KafkaSinkOptions& options, const config::FunctionConfig* function, RuntimeMetrics* metrics) {
  auto [mirror, source] = topicMirror(function);
  if (mirror == nullptr) return Status::ok();
  auto sourceProperties = kafkaProperties(source->security, {}, "mirror source");
  if (!sourceProperties.isOk()) return sourceProperties.status();
  KafkaTopicSyncOptions topics;
  topics.sourceProperties = std::move(sourceProperties).value();
  topics.sourceProperties["bootstrap.servers"] = source->bootstrapServers;
  topics.targetProperties = options.properties;
  topics.targetProperties["bootstrap.servers"] = options.bootstrapServers;
  if (mirror->rename == config::MirrorRename::kPrefix) topics.prefix = mirror->prefix;
  KafkaMirrorSyncOptions sync;
  sync.sourceProperties = topics.sourceProperties;
  sync.targetProperties = topics.targetProperties;
  sync.groups = {mirror->groups, topics.prefix, source->consumerGroup, mirror->groupSyncInterval};
  sync.configSyncInterval = mirror->configSyncInterval;
  auto created = KafkaTopicSync::create(std::move(topics));
  if (!created.isOk()) return created.status();
  sync.topicSync = std::shared_ptr<KafkaTopicSync>(std::move(created).value());
  sync.store = std::make_shared<OffsetSyncStore>();
  if (metrics != nullptr) {
    sync.onLag = [metrics](const std::string& topic, int32_t partition, int64_t records, double seconds) {
      metrics->setMirrorLag(topic, partition, static_cast<double>(records), seconds);
    };
  }
  options.topicSync = sync.topicSync;
  options.offsetSyncs = sync.store;
  options.sourcePrefix = mirror->rename == config::MirrorRename::kPrefix ? mirror->prefix : "";
  auto started = KafkaMirrorSync::create(std::move(sync));
  if (!started.isOk()) return started.status();
  options.mirrorSync = std::move(started).value();
  return Status::ok();
}

Result<std::unique_ptr<Sink>> buildSink(const config::SinkConfig& sink, const config::FunctionConfig* function,
                                        RuntimeMetrics* metrics) {
  std::string where = "output \"" + sink.name + "\"";
  if (const auto* kafka = std::get_if<config::KafkaSinkConfig>(&sink.sink)) {
    auto properties = kafkaProperties(kafka->security, kafka->properties, where + ".kafka");
    if (!properties.isOk()) return properties.status();
    KafkaSinkOptions options{kafka->bootstrapServers, kafka->topic, std::move(properties).value()};
    if (Status mirror = addMirrorSync(options, function, metrics); !mirror.isOk()) return mirror.withContext(where);
    auto created = KafkaSink::create(std::move(options));
    if (!created.isOk()) return created.status().withContext(where);
    return std::unique_ptr<Sink>(std::move(created).value());
  }
  if (const auto* rabbit = std::get_if<config::RabbitMqSinkConfig>(&sink.sink)) {
    auto url = amqpUrl(rabbit->connection, where + ".rabbitmq");
    if (!url.isOk()) return url.status();
    auto tls = amqpTls(rabbit->connection, where + ".rabbitmq");
    if (!tls.isOk()) return tls.status();
    RabbitMqSinkOptions options{*url, std::move(tls).value(), rabbit->exchange, rabbit->routingKey};
    if (Status mirror = configureRabbitMqMirror(function, *url, options, where); !mirror.isOk()) return mirror;
    auto created = RabbitMqSink::create(std::move(options));
    if (!created.isOk()) return created.status().withContext(where);
    return std::unique_ptr<Sink>(std::move(created).value());
  }
  if (const auto* dir = std::get_if<config::DirSinkConfig>(&sink.sink)) {
    // The real clock only names files (their creation time), no timers.
    auto created = DirSink::create({dir->path, ""}, realClock());
    if (!created.isOk()) return created.status().withContext(where);
    return std::unique_ptr<Sink>(std::move(created).value());
  }
  if (const auto* s3 = std::get_if<config::S3SinkConfig>(&sink.sink)) {
    const auto& at = s3->endpoint;
    auto client =
        s3Client(at.endpoint, at.region, at.bucket, at.pathStyle, at.accessKeyEnv, at.secretKeyEnv, where + ".s3");
    if (!client.isOk()) return client.status();
    // The real clock only names objects (their creation time), no timers.
    return std::unique_ptr<Sink>(
        std::make_unique<S3Sink>(S3SinkOptions{at.prefix, ""}, std::move(client).value(), realClock()));
  }
  if (const auto* web = std::get_if<config::HttpSinkConfig>(&sink.sink)) {
    HttpSinkOptions options;
    options.url = web->url;
    options.method = web->method;
    options.timeout = web->timeout;
    for (const auto& [name, value] : web->headers) options.headers.emplace_back(name, value);
    if (!web->bearerTokenEnv.empty()) {
      auto token = fromEnv(web->bearerTokenEnv, where + ".http.bearerTokenEnv");
      if (!token.isOk()) return token.status();
      options.headers.emplace_back("Authorization", "Bearer " + *token);
    }
    return std::unique_ptr<Sink>(std::make_unique<HttpSink>(std::move(options), http::makeCppRestHttpClient()));
  }
  return Status(StatusCode::kFailedPrecondition, where + ": this sink kind is not supported by this build yet");
}

Result<std::unique_ptr<Sink>> buildTriggerDeadLetter(const config::TriggerConfig& trigger) {
  if (trigger.deadLetter) {
    auto sink = buildSink(*trigger.deadLetter);
    if (!sink.isOk()) return sink.status().withContext("trigger \"" + trigger.name + "\".deadLetter");
    return sink;
  }
  const auto* rabbit = std::get_if<config::RabbitMqSourceConfig>(&trigger.source);
  if (rabbit == nullptr || rabbit->deadLetterQueue.empty()) return std::unique_ptr<Sink>();
  std::string where = "trigger \"" + trigger.name + "\"";
  auto url = amqpUrl(rabbit->connection, where + ".rabbitmq");
  if (!url.isOk()) return url.status();
  auto tls = amqpTls(rabbit->connection, where + ".rabbitmq");
  if (!tls.isOk()) return tls.status();
  // The default exchange routes by queue name.
  auto created = RabbitMqSink::create({*url, std::move(tls).value(), "", rabbit->deadLetterQueue});
  if (!created.isOk()) return created.status().withContext(where + ".rabbitmq.deadLetterQueue");
  return std::unique_ptr<Sink>(std::move(created).value());
}

}  // namespace sluice::runtime
