// The RabbitMQ half of a mirror's wiring: a RabbitMQ output of a Function
// whose pipeline has a `mirror` and whose trigger is RabbitMQ publishes each
// message with its own properties (RabbitMqMirrorOptions), and, with the
// mirror's `definitions`, keeps the target vhost's queues, exchanges and
// bindings in step with the source's. Stateless; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/config/function_config.h"
#include "runtime/sinks/rabbitmq_sink.h"

namespace sluice::runtime {

// Sets options.mirror (and options.definitions, syncing once: a broker that
// cannot be read or written fails here, naming the field) when `function`
// makes the output `outputUrl` a RabbitMQ mirror's; leaves them unset
// otherwise. `where` names the output in errors.
Status configureRabbitMqMirror(const config::FunctionConfig* function, const std::string& outputUrl,
                               RabbitMqSinkOptions& options, const std::string& where);

}  // namespace sluice::runtime
