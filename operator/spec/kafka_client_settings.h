// The Kafka client settings of a Trigger's Kafka connection (spec.kafka or
// spec.http.async.kafka): its bootstrap servers joined, and its security
// (SASL, TLS) as librdkafka properties with the credentials its Secrets hold.
// The one assembly for every process that connects as the Trigger says: the
// operator's lag scaler and the gateway's invocation publisher. The runtime
// reads the same credentials from its environment and files (runtime config).
// Pure function over the `readSecret` it is given; thread-safe when that is.
#pragma once

#include <functional>
#include <string>

#include "api/v1alpha1/trigger.h"
#include "clients/kafka_config.h"
#include "common/status.h"

namespace sluice::spec {

// One Secret key's value; its error is returned as is (so it should name the field and the Secret).
using SecretReader = std::function<Result<std::string>(const api::v1alpha1::SecretKey& need)>;

// `path` names the connection in errors and SecretKey fields ("spec.kafka", "spec.http.async.kafka").
Result<clients::KafkaClientSettings> kafkaClientSettings(const api::v1alpha1::KafkaSource& kafka,
                                                         const std::string& path, const SecretReader& readSecret);

}  // namespace sluice::spec
