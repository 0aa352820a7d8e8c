// Helpers shared by every Kafka client (the runtime's source and sink, the
// gateway's invocation publisher): building a librdkafka configuration from
// key/value properties with errors that name the property, and routing a
// client's errors and log lines into the log under the name of the trigger,
// output or queue it serves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "common/status.h"

namespace sluice::clients {

// A global librdkafka configuration holding `properties`; the error names the
// property and librdkafka's reason. Stateless; thread-safe.
Result<std::unique_ptr<RdKafka::Conf>> makeKafkaConf(const std::map<std::string, std::string>& properties);

// Errors after which a Kafka client stays unusable until its credentials,
// certificates, ACLs or topics change: a wrong password, a refused topic, a
// TLS handshake against an untrusted certificate, a topic that does not
// exist. librdkafka keeps retrying them, but every record would only fail
// after message.timeout.ms. Connection trouble is not among them (librdkafka
// reconnects by itself).
bool kafkaErrorIsUnusable(RdKafka::ErrorCode code);

// librdkafka's errors and log lines, prefixed with the owner ("kafka trigger
// orders", "kafka output \"out\""): a wrong password or an untrusted broker
// certificate then names the trigger or output it breaks, instead of only
// "rdkafka#consumer-1". Authentication, TLS and fatal errors are logged as
// errors; connection trouble as warnings (librdkafka reconnects itself).
// `onError`, when set, also hears every error event (code, librdkafka's
// text, fatal or not): the sink's health is fed from it.
// Must outlive the client it is attached to; called from librdkafka's
// threads, and holds no mutable state.
class KafkaEventLog final : public RdKafka::EventCb {
 public:
  using ErrorObserver = std::function<void(RdKafka::ErrorCode code, const std::string& text, bool fatal)>;
  explicit KafkaEventLog(std::string owner, ErrorObserver onError = nullptr)
      : owner_(std::move(owner)), onError_(std::move(onError)) {}
  Status attachTo(RdKafka::Conf& conf);
  void event_cb(RdKafka::Event& event) override;

 private:
  std::string owner_;
  ErrorObserver onError_;
};

}  // namespace sluice::clients
