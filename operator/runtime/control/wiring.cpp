#include "runtime/control/wiring.h"

#include <algorithm>
#include <cstdlib>
#include <type_traits>

#include "runtime/sinks/kafka_sink.h"
#include "runtime/sources/kafka_source.h"

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
  std::map<std::string, std::string> properties = extra;
  properties["security.protocol"] = security.protocol;
  if (!security.saslMechanism.empty()) {
    properties["sasl.mechanisms"] = security.saslMechanism;
    auto user = fromEnv(security.usernameEnv, where + ".security.usernameEnv");
    if (!user.isOk()) return user.status();
    auto password = fromEnv(security.passwordEnv, where + ".security.passwordEnv");
    if (!password.isOk()) return password.status();
    properties["sasl.username"] = *user;
    properties["sasl.password"] = *password;
  }
  if (!security.caFile.empty()) properties["ssl.ca.location"] = security.caFile;
  if (!security.certFile.empty()) properties["ssl.certificate.location"] = security.certFile;
  if (!security.keyFile.empty()) properties["ssl.key.location"] = security.keyFile;
  if (!security.keyPasswordEnv.empty()) {
    auto password = fromEnv(security.keyPasswordEnv, where + ".security.keyPasswordEnv");
    if (!password.isOk()) return password.status();
    properties["ssl.key.password"] = *password;
  }
  return properties;
}

}  // namespace

DeliveryOptions deliveryOptionsFor(const config::FunctionConfig& function) {
  DeliveryOptions options;
  options.functionName = function.name;
  // Handler calls are serialised (one interpreter per replica), but more
  // workers than that let backoff waits of one partition overlap others' work.
  options.workers = std::max(4, function.concurrency);
  options.handlerThreadSafe = false;
  options.maxAttempts = function.retry.maxAttempts;
  options.backoff.initial = function.retry.backoff.initialDelay;
  options.backoff.maxDelay = function.retry.backoff.maxDelay;
  options.backoff.multiplier = function.retry.backoff.multiplier;
  options.backoff.jitter = function.retry.backoff.jitter;
  options.handlerTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(function.timeout);
  int maxInFlight = 0;
  for (const auto& trigger : function.triggers) {
    if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) maxInFlight += kafka->maxInFlight;
    if (const auto* rabbit = std::get_if<config::RabbitMqSourceConfig>(&trigger.source)) {
      maxInFlight += rabbit->prefetch;
    }
  }
  options.maxInFlight = maxInFlight > 0 ? maxInFlight : 100;
  return options;
}

Result<std::unique_ptr<Source>> buildSource(const config::TriggerConfig& trigger, const config::FunctionConfig&,
                                            RuntimeMetrics& metrics, Clock& clock) {
  std::string where = "trigger \"" + trigger.name + "\"";
  if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) {
    auto properties = kafkaProperties(kafka->security, kafka->properties, where);
    if (!properties.isOk()) return properties.status();
    KafkaSourceOptions options;
    options.triggerName = trigger.name;
    options.bootstrapServers = kafka->bootstrapServers;
    options.topics = kafka->topics;
    options.consumerGroup = kafka->consumerGroup;
    options.initialOffset = kafka->initialOffset;
    options.properties = std::move(properties).value();
    return std::unique_ptr<Source>(std::make_unique<KafkaSource>(std::move(options), metrics, clock));
  }
  if (std::holds_alternative<config::HttpSourceConfig>(trigger.source) ||
      std::holds_alternative<config::CronSourceConfig>(trigger.source)) {
    return std::unique_ptr<Source>();  // pushed through /invoke
  }
  return Status(StatusCode::kFailedPrecondition, where + ": this source kind is not supported by this build yet");
}

Result<std::unique_ptr<Sink>> buildSink(const config::SinkConfig& sink) {
  std::string where = "output \"" + sink.name + "\"";
  if (const auto* kafka = std::get_if<config::KafkaSinkConfig>(&sink.sink)) {
    auto properties = kafkaProperties(kafka->security, kafka->properties, where);
    if (!properties.isOk()) return properties.status();
    auto created = KafkaSink::create({kafka->bootstrapServers, kafka->topic, std::move(properties).value()});
    if (!created.isOk()) return created.status().withContext(where);
    return std::unique_ptr<Sink>(std::move(created).value());
  }
  return Status(StatusCode::kFailedPrecondition, where + ": this sink kind is not supported by this build yet");
}

}  // namespace sluice::runtime
