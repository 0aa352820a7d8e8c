// Helpers shared by the Kafka source and sink: building a librdkafka
// configuration from key/value properties with errors that name the property,
// and routing a client's errors and log lines into the runtime's log under
// the name of the trigger or output it serves.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "common/status.h"

namespace sluice::runtime {

// A global librdkafka configuration holding `properties`; the error names the
// property and librdkafka's reason. Stateless; thread-safe.
Result<std::unique_ptr<RdKafka::Conf>> makeKafkaConf(const std::map<std::string, std::string>& properties);

// librdkafka's errors and log lines, prefixed with the owner ("kafka trigger
// orders", "kafka output \"out\""): a wrong password or an untrusted broker
// certificate then names the trigger or output it breaks, instead of only
// "rdkafka#consumer-1". Authentication, TLS and fatal errors are logged as
// errors; connection trouble as warnings (librdkafka reconnects itself).
// Must outlive the client it is attached to; called from librdkafka's
// threads, and holds no mutable state.
class KafkaEventLog final : public RdKafka::EventCb {
 public:
  explicit KafkaEventLog(std::string owner) : owner_(std::move(owner)) {}
  Status attachTo(RdKafka::Conf& conf);
  void event_cb(RdKafka::Event& event) override;

 private:
  std::string owner_;
};

}  // namespace sluice::runtime
