#include "clients/amqp_connection.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <vector>

namespace sluice::clients {

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Why OpenSSL refused the server's certificate in the last handshake of this
// thread (a connection is opened by the one thread that owns it): rabbitmq-c
// reports only that the handshake failed.
thread_local std::string lastVerifyError;

int recordVerifyError(int preverified, X509_STORE_CTX* store) {
  if (preverified == 0) lastVerifyError = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  return preverified;
}

// Trusts exactly the CAs of `caPem`, not the system's as well: a broker
// certificate from another CA is refused even if the system trusts that one.
Status trustOnly(SSL_CTX* context, const std::string& caPem, const std::string& where) {
  X509_STORE* store = X509_STORE_new();
  BioPtr bio = memoryBio(caPem);
  int added = 0;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, certificate);
    X509_free(certificate);
    ++added;
  }
  ERR_clear_error();  // the read past the last certificate
  if (added == 0) {
    X509_STORE_free(store);
    return invalidArgument(where + ": the TLS CA holds no PEM certificate");
  }
  SSL_CTX_set_cert_store(context, store);  // the context owns it now
  return Status::ok();
}

// The client certificate (then any intermediates after it) and its key.
Status presentCertificate(SSL_CTX* context, const AmqpTls& tls, const std::string& where) {
  BioPtr certificates = memoryBio(tls.certificatePem);
  X509* certificate = PEM_read_bio_X509(certificates.get(), nullptr, nullptr, nullptr);
  if (certificate == nullptr) return invalidArgument(where + ": the TLS client certificate is not a PEM certificate");
  const int used = SSL_CTX_use_certificate(context, certificate);
  X509_free(certificate);
  while (X509* intermediate = PEM_read_bio_X509(certificates.get(), nullptr, nullptr, nullptr)) {
    SSL_CTX_add0_chain_cert(context, intermediate);  // the context owns it now
  }
  ERR_clear_error();
  BioPtr keyBio = memoryBio(tls.keyPem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr);
  if (used != 1 || key == nullptr) {
    EVP_PKEY_free(key);
    ERR_clear_error();
    return invalidArgument(where + ": the TLS client key is not a PEM private key");
  }
  const bool matches = SSL_CTX_use_PrivateKey(context, key) == 1 && SSL_CTX_check_private_key(context) == 1;
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!matches) return invalidArgument(where + ": the TLS client key does not belong to the client certificate");
  return Status::ok();
}

}  // namespace

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

Status AmqpConnection::open(const std::string& url, int heartbeatSeconds, const AmqpTls& tls) {
  close();
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return invalidArgument("not an amqp:// URL: \"" + redactAmqpUrl(url) + "\"");
  }
  std::string where = "rabbitmq " + redactAmqpUrl(url);
  if (!info.ssl && tls != AmqpTls{}) {
    return invalidArgument(where + ": TLS certificates are given but the URL is amqp://, not amqps://");
  }
  state_ = amqp_new_connection();
  // Bound every synchronous step: a broker that stops answering must not
  // wedge the source's or sink's thread.
  timeval rpcTimeout{10, 0};
  amqp_set_handshake_timeout(state_, &rpcTimeout);
  amqp_set_rpc_timeout(state_, &rpcTimeout);
  Result<amqp_socket_t*> socket = newSocket(info.ssl != 0, tls, where);
  if (!socket.isOk()) {
    close(false);
    return socket.status();
  }
  timeval timeout{10, 0};
  lastVerifyError.clear();
  if (int rc = amqp_socket_open_noblock(*socket, info.host, info.port, &timeout); rc != AMQP_STATUS_OK) {
    std::string error = amqp_error_string2(rc);
    close(false);
    if (!lastVerifyError.empty()) {
      return unavailable(where + ": TLS: the server's certificate is not trusted: " + lastVerifyError);
    }
    return unavailable(where + ": connect: " + error);
  }
  amqp_rpc_reply_t login =
      amqp_login(state_, info.vhost, 0, 131072, heartbeatSeconds, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_SSL_ERROR) {
    // Under TLS 1.3 the broker checks a client certificate after the client
    // thinks the handshake is done, so its refusal surfaces at the first read:
    // the login. OpenSSL's queue holds the alert it sent (e.g. "unknown ca").
    std::string alert = "no reason given";
    if (unsigned long code = ERR_get_error(); code != 0) {
      std::array<char, 256> text{};
      ERR_error_string_n(code, text.data(), text.size());
      const char* reason = ERR_reason_error_string(code);
      alert = reason != nullptr ? reason : text.data();
    }
    ERR_clear_error();
    close(/*graceful=*/false);
    return unavailable(where + ": TLS: the broker ended the session before login (" + alert +
                       "): it does not trust the client certificate, or needs one and none was given");
  }
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

Result<amqp_socket_t*> AmqpConnection::newSocket(bool ssl, const AmqpTls& tls, const std::string& where) {
  amqp_socket_t* socket = ssl ? amqp_ssl_socket_new(state_) : amqp_tcp_socket_new(state_);
  if (socket == nullptr) return internalError(where + ": cannot create a socket");
  if (!ssl) return socket;
  amqp_ssl_socket_set_verify_peer(socket, 1);
  amqp_ssl_socket_set_verify_hostname(socket, 1);
  auto* context = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, recordVerifyError);
  Status trusted = tls.caPem.empty() ? (SSL_CTX_set_default_verify_paths(context) == 1
                                            ? Status::ok()
                                            : internalError(where + ": cannot load the system's trusted CAs"))
                                     : trustOnly(context, tls.caPem, where);
  if (!trusted.isOk()) return trusted;
  if (tls.certificatePem.empty() != tls.keyPem.empty()) {
    return invalidArgument(where + ": a TLS client certificate needs its key, and a key its certificate");
  }
  if (!tls.certificatePem.empty()) {
    if (Status presented = presentCertificate(context, tls, where); !presented.isOk()) return presented;
  }
  return socket;
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
