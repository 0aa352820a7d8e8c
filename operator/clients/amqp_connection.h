// AmqpConnection: one rabbitmq-c connection with one channel, opened from an
// amqp:// or amqps:// URL (TLS, the server's certificate verified); shared by the runtime's RabbitMQ source and sink
// and the autoscaler's queue-depth probe. rabbitmq-c connections are not thread-safe: each instance is owned and used
// by exactly one thread.
#pragma once

#include <amqp.h>

#include <string>

#include "common/status.h"

namespace sluice::clients {

// The probation queue of `queue`, where a replica handles redelivered
// messages one at a time (runtime/sources/rabbitmq_source.h); the autoscaler
// counts its messages with the queue's.
inline std::string probationQueueOf(const std::string& queue) { return queue + ".sluice-probation"; }

// TLS material of an amqps:// connection, as PEM text rather than file paths:
// the runtime reads it from environment variables, the operator and the
// gateway from a Secret. The server's certificate and host name are always
// verified; there is no switch to turn that off.
struct AmqpTls {
  std::string caPem;           // CA certificates the server's must chain to; "" = the system's trusted CAs
  std::string certificatePem;  // client certificate (with keyPem), for brokers that require one; "" = none
  std::string keyPem;
  friend bool operator==(const AmqpTls&, const AmqpTls&) = default;
};

class AmqpConnection {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  AmqpConnection() = default;
  ~AmqpConnection() { close(); }
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Connects, logs in and opens channel 1. The error never shows the password.
  // `heartbeatSeconds` is the interval asked of the broker. `tls` is used by
  // amqps:// URLs only (an amqp:// URL with TLS material is an error: the
  // material would be silently unused).
  Status open(const std::string& url, int heartbeatSeconds = 30, const AmqpTls& tls = {});
  // Sends a heartbeat frame. rabbitmq-c sends them only while it reads; a
  // consumer that holds back from reading (its prefetch or byte budget in
  // flight, a drain) calls this so the broker does not take the quiet for a
  // dead peer, close the connection and requeue every unacked delivery.
  Status sendHeartbeat();
  // graceful: close the channel and the connection with the AMQP handshake
  // (acks sent before are processed first); false when the socket is broken.
  void close(bool graceful = true);
  bool isOpen() const { return state_ != nullptr; }
  amqp_connection_state_t state() const { return state_; }

  // Declares `queue` durable (idempotent; fails when it exists with other
  // settings). Used where Sluice owns the queue: the gateway's asynchronous
  // invocations, declared by whichever side, gateway or replica, comes first.
  Status declareDurableQueue(const std::string& queue);
  // Declares `queue` durable unless it exists (then it keeps its own
  // arguments). Idempotent.
  Status ensureDurableQueue(const std::string& queue);
  // queue.bind; idempotent. A missing exchange or queue fails with kNotFound.
  Status bindQueue(const std::string& queue, const std::string& exchange, const std::string& routingKey);
  // queue.unbind of a binding made with no arguments; idempotent.
  Status unbindQueue(const std::string& queue, const std::string& exchange, const std::string& routingKey);

  // Turns the last RPC reply into a Status ("<what>: <reason>"); OK when normal.
  Status checkReply(const std::string& what);

 private:
  // The socket of a parsed URL: TCP, or TLS set up with `tls`.
  Result<amqp_socket_t*> newSocket(bool ssl, const AmqpTls& tls, const std::string& where);

  amqp_connection_state_t state_ = nullptr;
};

// The virtual host of an amqp URL, decoded ("amqp://h/%2f" and "amqp://h" are "/").
std::string amqpVirtualHost(const std::string& url);

// "host:port/vhost" of an amqp URL, without user and password (for logs and errors).
std::string redactAmqpUrl(const std::string& url);

inline std::string bytesToString(amqp_bytes_t bytes) {
  return bytes.bytes ? std::string(static_cast<const char*>(bytes.bytes), bytes.len) : std::string();
}

// `text` as AMQP bytes, not copied: valid while `text` lives and is not changed.
inline amqp_bytes_t bytesOf(const std::string& text) {
  return amqp_bytes_t{text.size(), const_cast<char*>(text.data())};
}

// An optional string property of a publish: set, with its flag, only when
// `value` is not empty. Points into `value`.
inline void setOptionalProperty(amqp_basic_properties_t& props, amqp_flags_t flag, amqp_bytes_t& field,
                                const std::string& value) {
  if (value.empty()) return;
  props._flags |= flag;
  field = bytesOf(value);
}

}  // namespace sluice::clients
