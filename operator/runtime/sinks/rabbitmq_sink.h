// RabbitMqSink: publishes Records with publisher confirms.
//
// The channel is in confirm mode and messages are persistent (delivery mode
// 2) and mandatory: a write succeeds only on the broker's basic.ack; a
// basic.nack, an unroutable message (basic.return) or a lost connection fails
// it. The record's key becomes the routing key when no fixed routingKey is set.
// A record from an AMQP input keeps that message's properties (message id,
// correlation id, content type, expiration, priority; its headers beside the
// record's own, which win on a name both have); any other gets a message id
// unique to it (this sink's random prefix and a sequence number) and
// application/octet-stream. Every message is stamped with the publish time.
// A mirror's output (RabbitMqMirrorOptions) instead publishes a RabbitMQ
// input's message with all of its own properties, unchanged.
// write() is thread-safe; the connection is owned by the sink's own thread,
// which publishes queued records and collects their confirms.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "clients/amqp_connection.h"
#include "runtime/sinks/rabbitmq_definitions_sync.h"
#include "runtime/sinks/sink.h"

namespace sluice::runtime {

// The output of a RabbitMQ mirror (a pipeline of only `mirror` over a
// RabbitMQ trigger): a record from a RabbitMQ input is published with every
// property of that message unchanged (headers table byte for byte, its
// timestamp, delivery mode, user-id as below), to the exchange `rename` picks.
struct RabbitMqMirrorOptions {
  enum class Rename {
    kOutput,    // the output's exchange and routingKey (the message's routing key when that is "")
    kIdentity,  // the exchange the message was published to on the source, with its routing key
    kPrefix,    // prefix + that exchange; on the default exchange, prefix + the routing key (the queue)
  };
  Rename rename = Rename::kOutput;
  std::string prefix;
  // The user-id property is kept when it names `outputUser` (the broker
  // refuses any other), or always with keepUserId; otherwise left out.
  bool keepUserId = false;
  std::string outputUser;
};

// Where a mirrored message goes: (exchange, routing key). Pure.
std::pair<std::string, std::string> mirrorTarget(const RabbitMqMirrorOptions& mirror, const std::string& outputExchange,
                                                 const std::string& outputRoutingKey, const std::string& sourceExchange,
                                                 const std::string& routingKey);

// The properties a mirror publishes a message with: `source` unchanged but
// for a user-id the mirror's options leave out, and `originHeader` (loop
// prevention's) added to the headers table when set and absent there.
Result<AmqpProperties> mirroredProperties(const RabbitMqMirrorOptions& mirror, const AmqpProperties& source,
                                          const std::optional<std::string>& originHeader);

struct RabbitMqSinkOptions {
  std::string url;
  clients::AmqpTls tls;                                        // amqps:// URLs only
  std::string exchange;                                        // "" = the default exchange
  std::string routingKey;                                      // "" = each record's key
  const Clock* clock = &realClock();                           // flush()'s deadline is on it; outlives the sink
  std::optional<RabbitMqMirrorOptions> mirror = std::nullopt;  // set for a mirror's output
  // A mirror's definitions sync, kept running as long as the sink lives.
  std::shared_ptr<RabbitMqDefinitionsSync> definitions = nullptr;
};

class RabbitMqSink final : public Sink {
 public:
  // Connects once synchronously so a wrong URL or password fails here.
  static Result<std::unique_ptr<RabbitMqSink>> create(RabbitMqSinkOptions options);
  ~RabbitMqSink() override;

  void write(Record record, WriteCallback done) override;
  Status flush(Clock::TimePoint deadline) override;
  bool usesOriginIds() const override { return true; }  // the message id of an input without one

 private:
  explicit RabbitMqSink(RabbitMqSinkOptions options) : options_(std::move(options)) {}
  struct Pending {
    Record record;
    WriteCallback done;
  };
  void run();
  Status ensureConnected();
  void publishQueued();
  // Publishes one record, awaiting its confirm, or fails it alone.
  // An AMQP status: not OK only when the socket is gone (the record unsent).
  int publishOne(Pending& pending);
  int publishMirrored(Pending& pending);
  // Handles confirms, returns and closes until nothing arrives within `timeoutMillis`.
  void readFrames(int timeoutMillis);
  void failAll(const Status& status);
  void complete(uint64_t tag, bool multiple, const Status& status);

  RabbitMqSinkOptions options_;
  std::string idPrefix_;                           // random, set by create(): generated message ids
  uint64_t nextId_ = 0;                            // thread_ only
  clients::AmqpConnection connection_;             // owned by thread_
  uint64_t nextTag_ = 1;                           // thread_ only
  std::map<uint64_t, WriteCallback> unconfirmed_;  // thread_ only
  int returned_ = 0;                               // thread_ only: basic.return seen, the next confirm fails

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  size_t outstanding_ = 0;     // guarded by mu_: queued + unconfirmed
  bool stop_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::runtime
