// The TLS material of a Trigger's RabbitMQ connection (spec.rabbitmq or
// spec.http.async.rabbitmq, tls.caKey / certKey / keyKey of its connection
// Secret) as PEM text, for the processes that connect as the Trigger says
// from a Secret they read themselves: the operator's queue-depth probe and
// the gateway's invocation publisher. The runtime reads the same keys from
// its environment (runtime config tlsCaEnv, tlsCertEnv, tlsKeyEnv).
// Pure function over the `readSecret` it is given; thread-safe when that is.
#pragma once

#include <string>

#include "api/v1alpha1/trigger.h"
#include "clients/amqp_connection.h"
#include "common/status.h"
#include "spec/kafka_client_settings.h"

namespace sluice::spec {

// Empty material when the connection has no tls; `path` names it in SecretKey fields.
Result<clients::AmqpTls> amqpTls(const api::v1alpha1::RabbitMqSource& rabbitmq, const std::string& path,
                                 const SecretReader& readSecret);

}  // namespace sluice::spec
