// The RabbitMQ dead letter of `sluice dlq` (see dlq.h): basic.get without
// auto-ack. A message fetched stays unacknowledged on this channel, so the
// next get returns the one after it; those not redriven go back with one
// basic.nack(multiple, requeue) at the end (RabbitMQ requeues them in their
// places; a nack per message would put each back at the head, to be fetched
// again). A command killed meanwhile leaves its channel closed by the broker,
// which requeues the same way.
#include <amqp.h>
#include <amqp_framing.h>

#include "cli/dlq.h"
#include "clients/amqp_connection.h"
#include "clients/amqp_publisher.h"

namespace sluice::cli {

namespace {

using clients::bytesOf;

// A header value as text: strings as they are, integers and booleans written out; other kinds are left out.
std::optional<std::string> textOf(const amqp_field_value_t& value) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return clients::bytesToString(value.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN: return std::string(value.value.boolean ? "true" : "false");
    case AMQP_FIELD_KIND_I8: return std::to_string(value.value.i8);
    case AMQP_FIELD_KIND_U8: return std::to_string(value.value.u8);
    case AMQP_FIELD_KIND_I16: return std::to_string(value.value.i16);
    case AMQP_FIELD_KIND_U16: return std::to_string(value.value.u16);
    case AMQP_FIELD_KIND_I32: return std::to_string(value.value.i32);
    case AMQP_FIELD_KIND_U32: return std::to_string(value.value.u32);
    case AMQP_FIELD_KIND_I64: return std::to_string(value.value.i64);
    case AMQP_FIELD_KIND_U64: return std::to_string(value.value.u64);
    default: return std::nullopt;
  }
}

DeadLetter letterOf(const amqp_message_t& message, size_t index) {
  DeadLetter letter;
  const amqp_basic_properties_t& p = message.properties;
  letter.position = "#" + std::to_string(index);
  letter.value = clients::bytesToString(message.body);
  letter.size = static_cast<int64_t>(message.body.len);
  if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) letter.timeMs = static_cast<int64_t>(p.timestamp) * 1000;
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) letter.contentType = clients::bytesToString(p.content_type);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) letter.messageId = clients::bytesToString(p.message_id);
  if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) letter.correlationId = clients::bytesToString(p.correlation_id);
  if (p._flags & AMQP_BASIC_EXPIRATION_FLAG) letter.expiration = clients::bytesToString(p.expiration);
  if (p._flags & AMQP_BASIC_PRIORITY_FLAG) letter.priority = p.priority;
  std::vector<std::pair<std::string, std::string>> headers;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& entry = p.headers.entries[i];
      if (auto text = textOf(entry.value)) headers.emplace_back(clients::bytesToString(entry.key), *text);
    }
  }
  readDeadLetterHeaders(headers, letter);
  return letter;
}

class AmqpDeadLetters final : public DeadLetterStore {
 public:
  explicit AmqpDeadLetters(AmqpEndpoint deadLetter) : deadLetter_(std::move(deadLetter)) {}

  Result<std::vector<DeadLetter>> list(size_t limit) override { return walk(limit, nullptr, nullptr); }
  Result<std::vector<DeadLetter>> redrive(const std::function<bool(const DeadLetter&)>& chosen,
                                          Reinjector* into) override {
    return walk(0, &chosen, into);
  }

 private:
  // The queue's depth now (a passive declare, which also says it exists).
  Result<uint32_t> depth() {
    amqp_queue_declare_ok_t* ok =
        amqp_queue_declare(connection_.state(), clients::AmqpConnection::kChannel, bytesOf(deadLetter_.queue),
                           /*passive=*/1, /*durable=*/0, /*exclusive=*/0, /*auto_delete=*/0, amqp_empty_table);
    if (Status s = connection_.checkReply("queue " + deadLetter_.queue); !s.isOk() || ok == nullptr) return s;
    return ok->message_count;
  }

  // The next message (held unacknowledged) and its delivery tag; nullopt when the queue is empty.
  Result<std::optional<std::pair<DeadLetter, uint64_t>>> next(size_t index) {
    amqp_connection_state_t state = connection_.state();
    amqp_maybe_release_buffers(state);
    amqp_rpc_reply_t reply =
        amqp_basic_get(state, clients::AmqpConnection::kChannel, bytesOf(deadLetter_.queue), /*no_ack=*/0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) return connection_.checkReply("basic.get");
    if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::optional<std::pair<DeadLetter, uint64_t>>();
    const uint64_t tag = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded)->delivery_tag;
    amqp_message_t message;
    reply = amqp_read_message(state, clients::AmqpConnection::kChannel, &message, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) return connection_.checkReply("reading a message");
    DeadLetter letter = letterOf(message, index);
    amqp_destroy_message(&message);
    return std::optional(std::pair(std::move(letter), tag));
  }

  Result<std::vector<DeadLetter>> walk(size_t limit, const std::function<bool(const DeadLetter&)>* chosen,
                                       Reinjector* into) {
    const std::string where = "spec.delivery.deadLetter.rabbitmq: queue " + deadLetter_.queue;
    if (Status s = connection_.open(deadLetter_.url, /*heartbeatSeconds=*/30, deadLetter_.tls); !s.isOk()) {
      return s.withContext(where);
    }
    auto result = fetch(limit, chosen, into);
    // Hand back every message held: those kept, and all of them after a failure.
    if (heldTag_ != 0 && connection_.isOpen()) {
      amqp_basic_nack(connection_.state(), clients::AmqpConnection::kChannel, heldTag_, /*multiple=*/1,
                      /*requeue=*/1);
    }
    connection_.close(result.isOk());
    if (!result.isOk()) return result.status().withContext(where);
    return result;
  }

  Result<std::vector<DeadLetter>> fetch(size_t limit, const std::function<bool(const DeadLetter&)>* chosen,
                                        Reinjector* into) {
    auto count = depth();
    if (!count.isOk()) return count.status();
    std::vector<DeadLetter> out;
    // Only what was there at the start: a redriven record that fails again comes back meanwhile.
    for (size_t i = 1; i <= *count && (limit == 0 || out.size() < limit); ++i) {
      auto got = next(i);
      if (!got.isOk()) return got.status();
      if (!*got) break;
      auto& [letter, tag] = **got;
      if (chosen != nullptr && !(*chosen)(letter)) {
        heldTag_ = tag;
        continue;
      }
      if (chosen != nullptr && into != nullptr) {
        if (Status s = into->reinject(letter); !s.isOk()) {
          heldTag_ = tag;
          return s.withContext("dead letter " + letter.position);
        }
        // Removed only now that the source confirmed its copy.
        if (amqp_basic_ack(connection_.state(), clients::AmqpConnection::kChannel, tag, /*multiple=*/0) != 0) {
          return unavailable("acknowledging dead letter " + letter.position + ": connection lost");
        }
      } else {
        heldTag_ = tag;
      }
      out.push_back(std::move(letter));
    }
    return out;
  }

  AmqpEndpoint deadLetter_;
  clients::AmqpConnection connection_;
  uint64_t heldTag_ = 0;  // the latest delivery tag held unacknowledged
};

class AmqpReinjector final : public Reinjector {
 public:
  explicit AmqpReinjector(const AmqpEndpoint& source)
      : publisher_(source.url, source.tls, std::chrono::seconds(30), /*declareQueues=*/false), queue_(source.queue) {}

  Status reinject(const DeadLetter& letter) override {
    clients::AmqpMessage message;
    message.messageId = letter.messageId;
    message.headers = letter.headers;
    if (!letter.contentType.empty()) message.contentType = letter.contentType;
    message.body = letter.value;
    message.correlationId = letter.correlationId;
    message.expiration = letter.expiration;
    message.priority = letter.priority;
    return publisher_.publish(queue_, message);
  }

 private:
  clients::AmqpPublisher publisher_;
  std::string queue_;
};

}  // namespace

std::unique_ptr<DeadLetterStore> amqpDeadLetterStore(const AmqpEndpoint& deadLetter) {
  return std::make_unique<AmqpDeadLetters>(deadLetter);
}

std::unique_ptr<Reinjector> amqpReinjector(const AmqpEndpoint& source) {
  return std::make_unique<AmqpReinjector>(source);
}

Result<std::unique_ptr<DeadLetterStore>> openDeadLetterStore(const DlqPlan& plan) {
  if (plan.kafkaDeadLetter) return kafkaDeadLetterStore(*plan.kafkaDeadLetter, plan.redriveGroup);
  if (plan.amqpDeadLetter) return amqpDeadLetterStore(*plan.amqpDeadLetter);
  return Status(StatusCode::kFailedPrecondition, "trigger " + plan.trigger + ": no dead letter to read");
}

Result<std::unique_ptr<Reinjector>> openReinjector(const DlqPlan& plan) {
  if (plan.kafkaSource) return kafkaReinjector(*plan.kafkaSource);
  if (plan.amqpSource) return amqpReinjector(*plan.amqpSource);
  return Status(StatusCode::kFailedPrecondition, plan.sourceRefusal);
}

}  // namespace sluice::cli
