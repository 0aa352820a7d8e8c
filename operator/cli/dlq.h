// `sluice dlq ls` and `sluice dlq redrive`: a Trigger's dead letter
// (spec.delivery.deadLetter) or a Function's (spec.deadLetter, shared by its
// Triggers without one), a Kafka topic or a RabbitMQ queue, read without
// consuming it, and chosen dead letters put back into their Trigger's source.
//
// - Where: resolveDlq reads the Function's Triggers and the Secrets they name
//   with the user's own kube access (the credentials never pass through the
//   operator) and gives a DlqPlan: the dead letter's connection and the
//   source's. Errors name the field at fault.
// - Reading (list): Kafka is read from the redrive position of the consumer
//   group `sluice-redrive-<namespace>-<trigger>` (else the topic's start) to
//   the end it had when the command started, assigned (not subscribed) and
//   never committing; RabbitMQ messages are fetched with basic.get, held
//   unacknowledged and all given back with one basic.nack(requeue) at the
//   end, so none is fetched twice and the queue keeps its order (RabbitMQ
//   puts requeued messages back in their places).
// - Redrive: each chosen dead letter is published to the source with the
//   broker's confirmation (Kafka acks=all, RabbitMQ publisher confirms),
//   its key, payload, headers and properties as they were minus the
//   x-sluice-* error headers the runtime added; only then is it removed from
//   the dead letter: RabbitMQ acks it; Kafka commits the group's redrive
//   position past it (a topic cannot lose one record). The position is the
//   first record not redriven; records redriven above it (an --id redrive
//   that skipped earlier ones) are listed in the commit's metadata, so
//   neither `ls` nor a later redrive shows them again. One record is in
//   flight at a time: a redrive killed between the confirmation and the
//   removal re-injects that one record again when run again; none is lost.
//   Only what the dead letter held when the command started is looked at,
//   so records that fail again meanwhile are not redriven in a loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "clients/amqp_connection.h"
#include "clients/kafka_config.h"
#include "common/clock.h"
#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::cli {

// The headers the runtime adds to a dead letter (runtime/delivery/delivery_loop.h; a unit test keeps them equal).
inline constexpr const char* kErrorHeader = "x-sluice-error";
inline constexpr const char* kAttemptsHeader = "x-sluice-attempts";
inline constexpr const char* kEventIdHeader = "x-sluice-event-id";
inline constexpr const char* kSourceHeader = "x-sluice-source";  // "kafka:topic/partition/offset", "rabbitmq:queue"
inline constexpr const char* kTriggerHeader = "x-sluice-trigger";
bool isDeadLetterHeader(const std::string& name);

// A Kafka topic (or topics) with its connection, or a RabbitMQ queue with its.
struct KafkaEndpoint {
  clients::KafkaClientSettings settings;
  std::vector<std::string> topics;
};
struct AmqpEndpoint {
  std::string url;
  clients::AmqpTls tls;
  std::string queue;
};

struct DlqPlan {
  std::string ns;
  std::string function;
  // The Trigger whose spec.delivery.deadLetter this is; for the Function's
  // spec.deadLetter (functionLevel) the Trigger whose records are meant
  // (--trigger), "" for all of them.
  std::string trigger;
  // The Function's spec.deadLetter: the dead letter of each of its Triggers
  // without one of their own. Its records come from several Triggers, so
  // each is redriven into the source of the Trigger it names
  // (x-sluice-trigger): `routes` holds one plan per such Trigger (its name
  // in `trigger`, only its source filled in).
  bool functionLevel = false;
  std::vector<DlqPlan> routes;
  std::optional<KafkaEndpoint> kafkaDeadLetter;  // one of these two
  std::optional<AmqpEndpoint> amqpDeadLetter;
  std::optional<KafkaEndpoint> kafkaSource;  // at most one of these two
  std::optional<AmqpEndpoint> amqpSource;
  std::string sourceRefusal;  // why a redrive cannot re-inject (a source that is neither), naming the field
  std::string redriveGroup;   // the Kafka consumer group holding the redrive position

  std::string deadLetterName() const;   // "kafka topic orders.dlq", "rabbitmq queue orders.dlq"
  std::string sourceName() const;       // functionLevel: each route's, "; "-separated
  std::string deadLetterField() const;  // "spec.delivery.deadLetter" or "spec.deadLetter"
  // "Trigger ns/t", "Function ns/f" (functionLevel), "Function ns/f, Trigger t" (functionLevel, --trigger).
  std::string ownerName() const;
  // functionLevel: the route of the Trigger that dead-lettered `letter`, null when none can take it back.
  const DlqPlan* routeOf(const std::string& trigger) const;
};

// The dead letter of Function `function` that is meant: `trigger`'s
// spec.delivery.deadLetter, else (`trigger` has none) the Function's
// spec.deadLetter, records of `trigger` only. Without `trigger`: the one dead
// letter the Function's records can reach, its one Trigger with
// spec.delivery.deadLetter or its spec.deadLetter (which counts when some
// Trigger has none of its own, or there is no Trigger).
// kInvalidArgument for a --trigger of another Function or an ambiguous choice,
// kNotFound for a missing Function or Trigger, kFailedPrecondition for a
// dead letter that cannot be read ("trigger t1: spec.delivery.deadLetter is not
// set, nor the Function's spec.deadLetter").
Result<DlqPlan> resolveDlq(kube::ResourceClient& client, const std::string& ns, const std::string& function,
                           const std::string& trigger);

// One dead letter as read.
struct DeadLetter {
  std::string position;  // Kafka "partition/offset"; RabbitMQ "#n", its place in the queue when read
  std::string id;        // x-sluice-event-id ("" without it)
  int attempts = 0;
  std::string error;
  std::string source;
  std::string trigger;
  std::optional<int64_t> timeMs;  // when it was dead-lettered (Unix ms), when known
  int64_t size = 0;               // payload bytes
  // What a redrive publishes: the record minus the error headers.
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string contentType;  // RabbitMQ properties kept as they were
  std::string messageId;
  std::string correlationId;
  std::string expiration;
  std::optional<uint8_t> priority;
};

// Fills id, attempts, error, source, trigger from the error headers of `headers`
// and keeps the others as the headers to publish again.
void readDeadLetterHeaders(const std::vector<std::pair<std::string, std::string>>& headers, DeadLetter& into);

// Puts one dead letter back into the source; OK once the broker confirmed it.
class Reinjector {
 public:
  virtual ~Reinjector() = default;
  virtual Status reinject(const DeadLetter& letter) = 0;
};

class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;
  // The dead letters not yet redriven, oldest first, at most `limit` (0: all); consumes nothing.
  virtual Result<std::vector<DeadLetter>> list(size_t limit) = 0;
  // Re-injects those `chosen` picks through `into` (null: a dry run, nothing
  // changes), each removed from the dead letter once confirmed; returns them.
  // Stops at the first failure, with what was redriven before it kept removed.
  virtual Result<std::vector<DeadLetter>> redrive(const std::function<bool(const DeadLetter&)>& chosen,
                                                  Reinjector* into) = 0;
};

// The real stores and reinjectors over librdkafka and rabbitmq-c.
Result<std::unique_ptr<DeadLetterStore>> openDeadLetterStore(const DlqPlan& plan);
Result<std::unique_ptr<Reinjector>> openReinjector(const DlqPlan& plan);
std::unique_ptr<DeadLetterStore> kafkaDeadLetterStore(const KafkaEndpoint& deadLetter, const std::string& group);
std::unique_ptr<DeadLetterStore> amqpDeadLetterStore(const AmqpEndpoint& deadLetter);
Result<std::unique_ptr<Reinjector>> kafkaReinjector(const KafkaEndpoint& source);
std::unique_ptr<Reinjector> amqpReinjector(const AmqpEndpoint& source);

// As printed: {id, position, attempts, error, source, trigger, time (RFC 3339 or null), ageSeconds (or null), size}.
nlohmann::json deadLetterJson(const DeadLetter& letter, std::chrono::system_clock::time_point now);
// Whose dead letter a listing's or report's header names: "Trigger ns/t",
// "Function ns/f (spec.deadLetter)", "Function ns/f (spec.deadLetter), Trigger t".
std::string ownerText(const nlohmann::json& header);
// The table of `sluice dlq ls` (ID, ATTEMPTS, AGE, SIZE, ERROR) under a line naming the dead letter.
std::string dlqListText(const nlohmann::json& listing);
// "45s", "3m", "2h", "5d"; "-" when unknown.
std::string ageText(const nlohmann::json& ageSeconds);

}  // namespace sluice::cli
