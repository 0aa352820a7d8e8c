#include "clients/amqp_publisher.h"

#include <amqp_framing.h>
#include <sys/time.h>

#include <algorithm>

namespace sluice::clients {

namespace {

// The headers table of `message` into `entries` (which the table points into).
void headerEntries(const AmqpMessage& message, std::vector<amqp_table_entry_t>& entries) {
  entries.reserve(message.headers.size());
  for (const auto& header : message.headers) {
    const std::string& name = header.first;
    const bool seen = std::any_of(entries.begin(), entries.end(), [&name](const amqp_table_entry_t& entry) {
      return entry.key.len == name.size() && std::equal(name.begin(), name.end(), static_cast<char*>(entry.key.bytes));
    });
    if (seen) continue;  // AMQP tables hold one value per name
    amqp_table_entry_t entry{};
    entry.key = bytesOf(name);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = bytesOf(header.second);
    entries.push_back(entry);
  }
}

// Persistent, stamped now, with the message's optional properties where set. Points into `message`.
amqp_basic_properties_t propertiesOf(const AmqpMessage& message, std::vector<amqp_table_entry_t>& entries) {
  headerEntries(message, entries);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                 AMQP_BASIC_HEADERS_FLAG;
  props.delivery_mode = 2;  // persistent
  props.content_type = bytesOf(message.contentType);
  props.timestamp = static_cast<uint64_t>(time(nullptr));
  props.headers = amqp_table_t{static_cast<int>(entries.size()), entries.data()};
  setOptionalProperty(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id, message.messageId);
  setOptionalProperty(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, message.correlationId);
  setOptionalProperty(props, AMQP_BASIC_EXPIRATION_FLAG, props.expiration, message.expiration);
  if (message.priority) {
    props._flags |= AMQP_BASIC_PRIORITY_FLAG;
    props.priority = *message.priority;
  }
  return props;
}

}  // namespace

Status AmqpPublisher::connectLocked() {
  declared_.clear();
  nextTag_ = 1;
  if (Status status = connection_.open(url_, /*heartbeatSeconds=*/30, tls_); !status.isOk()) return status;
  amqp_confirm_select(connection_.state(), AmqpConnection::kChannel);
  if (Status status = connection_.checkReply("confirm.select"); !status.isOk()) {
    connection_.close(false);
    return status;
  }
  return Status::ok();
}

Status AmqpPublisher::publish(const std::string& queue, const AmqpMessage& message) {
  std::lock_guard lock(mu_);
  const std::string where = "publishing to queue \"" + queue + "\" at " + redactAmqpUrl(url_);
  if (!connection_.isOpen()) {
    if (Status status = connectLocked(); !status.isOk()) return status.withContext(where);
  }
  if (declareQueues_ && !declared_.contains(queue)) {
    if (Status status = connection_.declareDurableQueue(queue); !status.isOk()) {
      connection_.close(false);  // a channel error closed the channel: start afresh next time
      return status.withContext(where);
    }
    declared_.insert(queue);
  }
  std::vector<amqp_table_entry_t> entries;
  const amqp_basic_properties_t props = propertiesOf(message, entries);
  int rc = amqp_basic_publish(connection_.state(), AmqpConnection::kChannel, amqp_empty_bytes, bytesOf(queue),
                              /*mandatory=*/1, /*immediate=*/0, &props, bytesOf(message.body));
  if (rc != AMQP_STATUS_OK) {
    connection_.close(false);
    return unavailable(where + ": " + amqp_error_string2(rc));
  }
  if (Status status = awaitConfirmLocked(nextTag_++); !status.isOk()) {
    connection_.close(false);  // the tag sequence is unknown now: a new channel starts at 1
    return status.withContext(where);
  }
  return Status::ok();
}

Status AmqpPublisher::awaitConfirmLocked(uint64_t tag) {
  const auto deadline = std::chrono::steady_clock::now() + confirmTimeout_;
  bool returned = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return unavailable("no confirm from the broker within " + std::to_string(confirmTimeout_.count()) + " ms");
    timeval timeout{static_cast<time_t>(left.count() / 1'000'000), static_cast<suseconds_t>(left.count() % 1'000'000)};
    amqp_maybe_release_buffers(connection_.state());
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(connection_.state(), &frame, &timeout);
    if (rc != AMQP_STATUS_OK) return unavailable(std::string("waiting for the confirm: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;  // a returned message's header/body frames
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (ack->delivery_tag < tag && !ack->multiple) continue;  // an earlier message's (cannot happen: one at a time)
        if (returned) return unavailable("the broker returned the message: no queue took it");
        return Status::ok();
      }
      case AMQP_BASIC_NACK_METHOD: return unavailable("the broker refused the message (basic.nack)");
      case AMQP_BASIC_RETURN_METHOD: {
        // Unroutable: the broker sends basic.return, the message, then basic.ack.
        returned = true;
        amqp_message_t content;
        amqp_read_message(connection_.state(), frame.channel, &content, 0);
        amqp_destroy_message(&content);
        continue;
      }
      case AMQP_CHANNEL_CLOSE_METHOD: {
        auto* close = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
        return unavailable("channel closed by the broker: " + bytesToString(close->reply_text));
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        auto* close = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
        return unavailable("connection closed by the broker: " + bytesToString(close->reply_text));
      }
      default: continue;
    }
  }
}

}  // namespace sluice::clients
