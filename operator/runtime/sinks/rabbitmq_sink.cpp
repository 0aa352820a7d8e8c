#include "runtime/sinks/rabbitmq_sink.h"

#include <amqp_framing.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "clients/amqp_properties.h"
#include "common/logging.h"
#include "common/random.h"

namespace sluice::runtime {

namespace {

using clients::setOptionalProperty;

// The properties one record is published with. Points into the record and
// `generatedId`; `entries` holds the headers table. Valid while those live.
struct OutgoingProperties {
  amqp_basic_properties_t props{};
  std::vector<amqp_table_entry_t> entries;
};

void addHeaders(const Headers& headers, std::vector<amqp_table_entry_t>& entries) {
  for (const auto& header : headers) {
    const std::string& key = header.first;
    // An AMQP table holds one value per name: the first one given wins.
    const bool seen = std::any_of(entries.begin(), entries.end(), [&key](const amqp_table_entry_t& entry) {
      return clients::tableEntryNamed(entry, key);
    });
    if (!seen) entries.push_back(clients::utf8TableEntry(key, header.second));
  }
}

void fillProperties(const Record& record, const std::string& generatedId, OutgoingProperties& out) {
  amqp_basic_properties_t& props = out.props;
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.delivery_mode = 2;  // persistent
  props.timestamp = static_cast<uint64_t>(std::time(nullptr));
  const MessageProperties* input = record.amqp.get();
  setOptionalProperty(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id,
                      input != nullptr && !input->messageId.empty() ? input->messageId : generatedId);
  static const std::string kOctetStream = "application/octet-stream";
  setOptionalProperty(props, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type,
                      input != nullptr && !input->contentType.empty() ? input->contentType : kOctetStream);
  addHeaders(record.headers, out.entries);
  if (input != nullptr) {
    setOptionalProperty(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, input->correlationId);
    setOptionalProperty(props, AMQP_BASIC_EXPIRATION_FLAG, props.expiration, input->expiration);
    if (input->priority) {
      props._flags |= AMQP_BASIC_PRIORITY_FLAG;
      props.priority = *input->priority;
    }
    addHeaders(input->headers, out.entries);
  }
  if (!out.entries.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = amqp_table_t{static_cast<int>(out.entries.size()), out.entries.data()};
  }
}

// Loop prevention's header (runtime/pipeline/pipeline.h, a layer above):
// the one header of a mirrored record that is not the message's own.
constexpr const char* kMirrorOriginHeaderName = "sluice-mirror-origin";

}  // namespace

std::pair<std::string, std::string> mirrorTarget(const RabbitMqMirrorOptions& mirror, const std::string& outputExchange,
                                                 const std::string& outputRoutingKey, const std::string& sourceExchange,
                                                 const std::string& routingKey) {
  switch (mirror.rename) {
    case RabbitMqMirrorOptions::Rename::kOutput: break;
    case RabbitMqMirrorOptions::Rename::kIdentity: return {sourceExchange, routingKey};
    case RabbitMqMirrorOptions::Rename::kPrefix:
      // The default exchange routes by queue name: the queue is the one renamed.
      if (sourceExchange.empty()) return {"", mirror.prefix + routingKey};
      return {mirror.prefix + sourceExchange, routingKey};
  }
  return {outputExchange, outputRoutingKey.empty() ? routingKey : outputRoutingKey};
}

Result<AmqpProperties> mirroredProperties(const RabbitMqMirrorOptions& mirror, const AmqpProperties& source,
                                          const std::optional<std::string>& originHeader) {
  AmqpProperties out = source;
  if (out.has(AMQP_BASIC_USER_ID_FLAG) && !mirror.keepUserId && out.userId != mirror.outputUser) {
    out.flags &= ~static_cast<uint32_t>(AMQP_BASIC_USER_ID_FLAG);
    out.userId.clear();
  }
  if (!originHeader || !clients::amqpTableString(out.headersTable, kMirrorOriginHeaderName).empty()) return out;
  auto table = clients::editAmqpTable(out.headersTable, {}, {{kMirrorOriginHeaderName, *originHeader}});
  if (!table.isOk()) return table.status();
  out.headersTable = std::move(table).value();
  out.flags |= AMQP_BASIC_HEADERS_FLAG;
  return out;
}

Result<std::unique_ptr<RabbitMqSink>> RabbitMqSink::create(RabbitMqSinkOptions options) {
  if (options.exchange.empty() && options.routingKey.empty()) {
    return invalidArgument("rabbitmq output: routingKey is required with the default exchange (it names the queue)");
  }
  std::unique_ptr<RabbitMqSink> sink(new RabbitMqSink(std::move(options)));
  Result<std::string> prefix = randomHexToken(8);
  if (!prefix.isOk()) return prefix.status().withContext("rabbitmq output: message ids");
  sink->idPrefix_ = std::move(prefix).value();
  if (Status status = sink->ensureConnected(); !status.isOk()) return status;
  sink->thread_ = std::thread([raw = sink.get()] { raw->run(); });
  return sink;
}

RabbitMqSink::~RabbitMqSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status RabbitMqSink::ensureConnected() {
  if (connection_.isOpen()) return Status::ok();
  std::string where =
      "rabbitmq output \"" + (options_.exchange.empty() ? options_.routingKey : options_.exchange) + "\"";
  if (Status status = connection_.open(options_.url, /*heartbeatSeconds=*/30, options_.tls); !status.isOk())
    return status.withContext(where);
  amqp_confirm_select(connection_.state(), clients::AmqpConnection::kChannel);
  if (Status status = connection_.checkReply("confirm.select"); !status.isOk()) {
    connection_.close();
    return status.withContext(where);
  }
  nextTag_ = 1;
  returned_ = 0;
  return Status::ok();
}

void RabbitMqSink::write(Record record, WriteCallback done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(record), std::move(done)});
    ++outstanding_;
  }
  cv_.notify_all();
}

Status RabbitMqSink::flush(Clock::TimePoint deadline) {
  std::unique_lock lock(mu_);
  while (outstanding_ > 0) {
    if (options_.clock->now() >= deadline) {
      return Status(StatusCode::kDeadlineExceeded,
                    "rabbitmq output: " + std::to_string(outstanding_) + " message(s) unconfirmed");
    }
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  return Status::ok();
}

void RabbitMqSink::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(unconfirmed_.empty() ? 50 : 0),
                   [&] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty() && unconfirmed_.empty()) break;
    }
    publishQueued();
    // Read even when nothing awaits a confirm: rabbitmq-c answers heartbeats
    // and notices a dead broker only while it reads.
    if (connection_.isOpen()) readFrames(unconfirmed_.empty() ? 0 : 20);
  }
  connection_.close();
}

void RabbitMqSink::publishQueued() {
  std::deque<Pending> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  if (batch.empty()) return;
  if (Status status = ensureConnected(); !status.isOk()) {
    for (auto& p : batch) {
      p.done(status);
      std::lock_guard lock(mu_);
      --outstanding_;
    }
    cv_.notify_all();
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    int rc = publishOne(p);
    if (rc != AMQP_STATUS_OK) {
      // The socket is gone: this record, the unconfirmed ones and the rest of
      // the batch all fail (the delivery loop retries them on a new connection).
      Status error = unavailable(std::string("rabbitmq output: publish: ") + amqp_error_string2(rc));
      failAll(error);
      connection_.close(/*graceful=*/false);
      for (size_t j = i; j < batch.size(); ++j) batch[j].done(error);
      {
        std::lock_guard lock(mu_);
        outstanding_ -= batch.size() - i;
      }
      break;
    }
  }
  cv_.notify_all();
}

int RabbitMqSink::publishOne(Pending& p) {
  if (options_.mirror && p.record.amqp != nullptr) return publishMirrored(p);
  // An AMQP input's own message id when it has one. Otherwise the record's
  // origin ("<event id>#<n>"), stable across write retries and redeliveries,
  // but not for an AMQP input without an id: its event id names a delivery
  // tag, which another replica reuses for another message. Last, an id of
  // this process's own (a list handler's outputs).
  std::string generatedId;
  if (p.record.amqp == nullptr && !p.record.originId.empty()) {
    generatedId = p.record.originId;
  } else if (p.record.amqp == nullptr || p.record.amqp->messageId.empty()) {
    generatedId = idPrefix_ + "-" + std::to_string(nextId_++);
  }
  OutgoingProperties outgoing;
  fillProperties(p.record, generatedId, outgoing);
  const std::string& routingKey = !options_.routingKey.empty() ? options_.routingKey : p.record.key.value_or("");
  int rc = amqp_basic_publish(connection_.state(), clients::AmqpConnection::kChannel,
                              amqp_cstring_bytes(options_.exchange.c_str()), amqp_cstring_bytes(routingKey.c_str()),
                              /*mandatory=*/1, 0, &outgoing.props,
                              amqp_bytes_t{p.record.value.size(), p.record.value.data()});
  if (rc == AMQP_STATUS_OK) unconfirmed_[nextTag_++] = std::move(p.done);
  return rc;
}

int RabbitMqSink::publishMirrored(Pending& p) {
  const MessageProperties& source = *p.record.amqp;
  std::optional<std::string> origin;
  for (const auto& [key, value] : p.record.headers) {
    if (key == kMirrorOriginHeaderName) origin = value;
  }
  auto properties = mirroredProperties(*options_.mirror, source.all, origin);
  clients::OutgoingAmqpProperties outgoing;
  Status ready = properties.isOk() ? outgoing.set(*properties) : properties.status();
  if (!ready.isOk()) {
    // This message alone cannot be published (its headers do not decode): it fails, the rest go on.
    p.done(ready.withContext("rabbitmq output"));
    std::lock_guard lock(mu_);
    --outstanding_;
    return AMQP_STATUS_OK;
  }
  const auto [exchange, routingKey] = mirrorTarget(*options_.mirror, options_.exchange, options_.routingKey,
                                                   source.exchange, p.record.key.value_or(""));
  int rc = amqp_basic_publish(connection_.state(), clients::AmqpConnection::kChannel, clients::bytesOf(exchange),
                              clients::bytesOf(routingKey), /*mandatory=*/1, 0, &outgoing.get(),
                              amqp_bytes_t{p.record.value.size(), p.record.value.data()});
  if (rc == AMQP_STATUS_OK) unconfirmed_[nextTag_++] = std::move(p.done);
  return rc;
}

void RabbitMqSink::complete(uint64_t tag, bool multiple, const Status& status) {
  std::vector<WriteCallback> done;
  if (multiple) {
    for (auto it = unconfirmed_.begin(); it != unconfirmed_.end() && it->first <= tag;) {
      done.push_back(std::move(it->second));
      it = unconfirmed_.erase(it);
    }
  } else if (auto it = unconfirmed_.find(tag); it != unconfirmed_.end()) {
    done.push_back(std::move(it->second));
    unconfirmed_.erase(it);
  }
  // The broker sends basic.return just before the ack of the returned
  // message. That ack may be a `multiple` one covering others too, and the
  // return does not say which tag it was, so every message that ack covers
  // fails: a spurious retry (a duplicate) is acceptable, a lost record is not.
  Status result = status;
  if (returned_ > 0 && status.isOk()) {
    returned_ = 0;
    result = unavailable("rabbitmq output: message unroutable (no queue bound to routing key \"" + options_.routingKey +
                         "\" on exchange \"" + options_.exchange + "\")");
  }
  for (auto& callback : done) callback(result);
  {
    std::lock_guard lock(mu_);
    outstanding_ -= done.size();
  }
  cv_.notify_all();
}

void RabbitMqSink::failAll(const Status& status) {
  std::map<uint64_t, WriteCallback> pending;
  pending.swap(unconfirmed_);
  for (auto& [tag, done] : pending) done(status);
  {
    std::lock_guard lock(mu_);
    outstanding_ -= pending.size();
  }
  cv_.notify_all();
}

void RabbitMqSink::readFrames(int timeoutMillis) {
  // Stop once every publish is confirmed, so queued records go out without
  // waiting for the read timeout.
  while (connection_.isOpen() && !(timeoutMillis > 0 && unconfirmed_.empty())) {
    amqp_maybe_release_buffers(connection_.state());
    amqp_frame_t frame;
    timeval timeout{0, static_cast<suseconds_t>(timeoutMillis) * 1000};
    int rc = amqp_simple_wait_frame_noblock(connection_.state(), &frame, &timeout);
    if (rc == AMQP_STATUS_TIMEOUT) return;
    if (rc != AMQP_STATUS_OK) {
      failAll(unavailable(std::string("rabbitmq output: waiting for confirms: ") + amqp_error_string2(rc)));
      connection_.close(/*graceful=*/false);
      return;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        complete(ack->delivery_tag, ack->multiple, Status::ok());
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        complete(nack->delivery_tag, nack->multiple, unavailable("rabbitmq output: the broker nacked the message"));
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        amqp_message_t message;
        if (amqp_read_message(connection_.state(), frame.channel, &message, 0).reply_type == AMQP_RESPONSE_NORMAL) {
          amqp_destroy_message(&message);
        }
        ++returned_;
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        failAll(unavailable("rabbitmq output: the broker closed the channel"));
        connection_.close(/*graceful=*/false);
        return;
      default: break;
    }
  }
}

}  // namespace sluice::runtime
