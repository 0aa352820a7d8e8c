#include "clients/amqp_connection.h"

#include <amqp_tcp_socket.h>

#include <vector>

namespace sluice::clients {

std::string redactAmqpUrl(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

Status AmqpConnection::checkReply(const std::string& what) {
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return Status::ok();
    case AMQP_RESPONSE_NONE: return unavailable(what + ": missing RPC reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return unavailable(what + ": " + amqp_error_string2(reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* close = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return unavailable(what + ": connection closed by server: " + bytesToString(close->reply_text));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* close = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        // 404 NOT_FOUND (no such queue), 403 ACCESS_REFUSED, 406 PRECONDITION_FAILED.
        StatusCode code = close->reply_code == 404 ? StatusCode::kNotFound : StatusCode::kUnavailable;
        return Status(code, what + ": channel closed by server: " + bytesToString(close->reply_text));
      }
      return unavailable(what + ": server exception");
  }
  return unavailable(what + ": unknown reply");
}

Status AmqpConnection::sendHeartbeat() {
  if (state_ == nullptr) return unavailable("rabbitmq: no connection to send a heartbeat on");
  amqp_frame_t frame{};
  frame.frame_type = AMQP_FRAME_HEARTBEAT;
  frame.channel = 0;
  if (int rc = amqp_send_frame(state_, &frame); rc != AMQP_STATUS_OK) {
    return unavailable(std::string("rabbitmq: sending a heartbeat: ") + amqp_error_string2(rc));
  }
  return Status::ok();
}

Status AmqpConnection::declareDurableQueue(const std::string& queue) {
  amqp_queue_declare(state_, kChannel, amqp_cstring_bytes(queue.c_str()), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, amqp_empty_table);
  return checkReply("queue.declare \"" + queue + "\"");
}

Status AmqpConnection::ensureDurableQueue(const std::string& queue) {
  // Passive first: an existing queue is left with the arguments it was made
  // with (a redeclaration with others would fail with PRECONDITION_FAILED).
  amqp_queue_declare(state_, kChannel, amqp_cstring_bytes(queue.c_str()), /*passive=*/1, 0, 0, 0, amqp_empty_table);
  Status exists = checkReply("queue.declare \"" + queue + "\" (passive)");
  if (exists.code() != StatusCode::kNotFound) return exists;
  // The broker closed the channel over the missing queue: acknowledge that and open it again.
  amqp_channel_close_ok_t closeOk{};
  if (int rc = amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOk); rc != AMQP_STATUS_OK) {
    return unavailable(std::string("channel.close-ok: ") + amqp_error_string2(rc));
  }
  amqp_channel_open(state_, kChannel);
  if (Status reopened = checkReply("channel.open"); !reopened.isOk()) return reopened;
  return declareDurableQueue(queue);
}

Status AmqpConnection::bindQueue(const std::string& queue, const std::string& exchange, const std::string& routingKey) {
  amqp_queue_bind(state_, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes(exchange.c_str()),
                  amqp_cstring_bytes(routingKey.c_str()), amqp_empty_table);
  return checkReply("queue.bind \"" + queue + "\" to exchange \"" + exchange + "\" with routing key \"" + routingKey +
                    "\"");
}

Status AmqpConnection::unbindQueue(const std::string& queue, const std::string& exchange,
                                   const std::string& routingKey) {
  amqp_queue_unbind(state_, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes(exchange.c_str()),
                    amqp_cstring_bytes(routingKey.c_str()), amqp_empty_table);
  return checkReply("queue.unbind \"" + queue + "\" from exchange \"" + exchange + "\" with routing key \"" +
                    routingKey + "\"");
}

std::string amqpVirtualHost(const std::string& url) {
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  // rabbitmq-c decodes the path ("%2f" is "/") and defaults it to "/".
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK || info.vhost == nullptr) return "/";
  return info.vhost;
}

Status AmqpConnection::open(const std::string& url, int heartbeatSeconds) {
  close();
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return invalidArgument("not an amqp:// URL: \"" + redactAmqpUrl(url) + "\"");
  }
  if (info.ssl) return invalidArgument("amqps:// is not supported by this build: \"" + redactAmqpUrl(url) + "\"");
  std::string where = "rabbitmq " + redactAmqpUrl(url);
  state_ = amqp_new_connection();
  // Bound every synchronous step: a broker that stops answering must not
  // wedge the source's or sink's thread.
  timeval rpcTimeout{10, 0};
  amqp_set_handshake_timeout(state_, &rpcTimeout);
  amqp_set_rpc_timeout(state_, &rpcTimeout);
  amqp_socket_t* socket = amqp_tcp_socket_new(state_);
  if (socket == nullptr) {
    close(false);
    return internalError(where + ": cannot create a socket");
  }
  timeval timeout{10, 0};
  if (int rc = amqp_socket_open_noblock(socket, info.host, info.port, &timeout); rc != AMQP_STATUS_OK) {
    std::string error = amqp_error_string2(rc);
    close(false);
    return unavailable(where + ": connect: " + error);
  }
  amqp_rpc_reply_t login =
      amqp_login(state_, info.vhost, 0, 131072, heartbeatSeconds, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    std::string user = info.user;
    std::string reason = login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                             ? std::string(amqp_error_string2(login.library_error))
                             : std::string("refused by the server");
    close(/*graceful=*/false);
    // rabbitmq-c reports a wrong password as the server closing the socket.
    return Status(StatusCode::kUnauthenticated, where + ": login as user \"" + user + "\" failed: " + reason);
  }
  amqp_channel_open(state_, kChannel);
  if (Status status = checkReply(where + ": channel.open"); !status.isOk()) {
    close(false);
    return status;
  }
  return Status::ok();
}

void AmqpConnection::close(bool graceful) {
  if (state_ == nullptr) return;
  if (graceful) {
    amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
  state_ = nullptr;
}

}  // namespace sluice::clients
