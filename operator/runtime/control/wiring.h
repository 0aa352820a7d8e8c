// Wiring: turns the parsed function configuration (runtime/config) into the
// runtime's Sources and Sinks. Credentials named by *Env fields are read from
// the environment here; errors name the trigger/output and the field.
// Stateless; thread-safe.
#pragma once

#include <memory>

#include "clients/amqp_connection.h"
#include "common/clock.h"
#include "common/status.h"
#include "runtime/config/function_config.h"
#include "runtime/delivery/delivery_loop.h"
#include "runtime/metrics/runtime_metrics.h"
#include "runtime/sinks/sink.h"
#include "runtime/sources/kafka_source.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

// A Source for a pulled trigger (kafka, rabbitmq, objectStore), or nullptr for
// pushed ones (http, cron), which arrive through /invoke.
Result<std::unique_ptr<Source>> buildSource(const config::TriggerConfig& trigger,
                                            const config::FunctionConfig& function, RuntimeMetrics& metrics,
                                            Clock& clock);

// `function`, when given, is the Function the output belongs to: a Kafka
// output of a mirror that keeps or renames topics then creates and grows its
// target topics from the mirror's Kafka trigger (KafkaTopicSync), keeps
// offset-sync pairs and runs the mirror's group offset, topic config and lag
// sync (KafkaMirrorSync), its lag reported to `metrics` when given.
Result<std::unique_ptr<Sink>> buildSink(const config::SinkConfig& sink,
                                        const config::FunctionConfig* function = nullptr,
                                        RuntimeMetrics* metrics = nullptr);

// The trigger's own dead-letter sink (its deadLetter, else a RabbitMQ trigger's deadLetterQueue),
// or nullptr when it has none; events it gives up on go there instead of the
// function's deadLetter output (DeliveryLoop::setTriggerDeadLetter).
Result<std::unique_ptr<Sink>> buildTriggerDeadLetter(const config::TriggerConfig& trigger);

// The amqp:// URL to connect with: `url` or the value of `urlEnv`, with the
// user and password from usernameEnv/passwordEnv (percent-encoded) when given.
// `where` prefixes errors (e.g. `trigger "posts".rabbitmq`).
Result<std::string> amqpUrl(const config::AmqpConnectionConfig& connection, const std::string& where);

// The TLS material of an amqps:// connection, read from tlsCaEnv, tlsCertEnv
// and tlsKeyEnv; an unset variable is an error naming the field.
Result<clients::AmqpTls> amqpTls(const config::AmqpConnectionConfig& connection, const std::string& where);

// Delivery options (retries, backoff, timeout, in-flight limits) for `function`.
DeliveryOptions deliveryOptionsFor(const config::FunctionConfig& function);

// The in-flight byte budget of each trigger: its own maxInFlightBytes, else
// an equal share of the default budget (runtime/memory) of the replica's
// memory: the Function's declared limit, else the container's.
std::map<std::string, int64_t> triggerByteBudgets(const config::FunctionConfig& function);

// A Kafka consumer's options for `kafka` (a kafka Trigger's, or an http
// Trigger's asynchronous invocations), all but its librdkafka properties.
KafkaSourceOptions kafkaSourceOptions(const config::TriggerConfig& trigger, const config::KafkaSourceConfig& kafka,
                                      const config::FunctionConfig& function);

}  // namespace sluice::runtime
