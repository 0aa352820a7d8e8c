// Helpers shared by the Kafka source and sink: building a librdkafka
// configuration from key/value properties with errors that name the property.
// Stateless; thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "common/status.h"

namespace sluice::runtime {

// A global librdkafka configuration holding `properties`; the error names the
// property and librdkafka's reason.
Result<std::unique_ptr<RdKafka::Conf>> makeKafkaConf(const std::map<std::string, std::string>& properties);

}  // namespace sluice::runtime
