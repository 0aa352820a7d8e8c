// HttpServer: Sluice's one HTTP server (Boost.Beast, asynchronous, HTTP/1.1
// keep-alive). The gateway serves on it; the operator's and runtime's
// endpoints are to move onto it too.
//
// A handler gets each request once it is read whole and answers through a
// Responder, exactly once, from any thread, at once or later: a request may
// wait (a queue, an upstream call) without holding a server thread. A body
// larger than maxBodyBytes is refused with 413 before it is read (the rest of
// it is read and dropped, bounded in memory, so the client sees the answer);
// "Expect: 100-continue" is answered so clients send bodies without delay.
// stop() stops accepting, closes idle connections, lets requests being
// handled answer (with "Connection: close") for up to a grace period, then
// closes everything.
//
// With a certificate and key in the options it serves HTTPS instead, and
// replaceTlsCredentials() renews them without closing the listener.
//
// Thread-safety: start()/stop() from one thread; the handler runs on the
// server's threads, concurrently for different connections.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

class IoPool;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ServerRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query as sent: "/a/b?x=1"
  HeaderList headers;  // names lower-cased, in the order sent
  std::string body;    // bytes
  std::string remoteAddress;

  // The first header of that (lower-case) name, or null.
  const std::string* header(const std::string& lowerName) const;
};

// RFC 9110 field syntax: a name is a token; a value has no CR, LF or NUL.
bool isHeaderName(std::string_view name);
bool isHeaderValue(std::string_view value);

struct ServerResponse {
  int status = 200;
  HeaderList headers;  // Content-Length and Connection are the server's
  std::string body;
  bool closeConnection = false;  // answer with "Connection: close" and close it after
};

// Answers one request; a second call is ignored. Copyable; callable from any thread.
using Responder = std::function<void(ServerResponse)>;
using RequestHandler = std::function<void(ServerRequest request, Responder respond)>;

struct HttpServerOptions {
  std::string bindAddress = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::size_t maxBodyBytes = std::size_t{6} * 1024 * 1024;
  // A lower body limit for some requests, from their method and target (the
  // runtime's /invoke); checked like maxBodyBytes once the header is read.
  // Unset: maxBodyBytes for every request.
  std::function<std::size_t(const std::string& method, const std::string& target)> bodyLimitFor = nullptr;
  int threads = 2;
  // Set: the server runs on these event loops (its connections spread over
  // them in turn) instead of `threads` of its own, so a client on the same
  // pool can serve a request's upstream call on the thread that read it
  // (io_pool.h). The pool outlives the server.
  IoPool* ioPool = nullptr;
  // How long a kept-alive connection may sit idle, and how long reading one
  // request may take, before the connection is closed.
  std::chrono::milliseconds idleTimeout{60'000};
  std::chrono::milliseconds readTimeout{30'000};
  std::string name = "http server";  // in logs
  // Both set (PEM): the server speaks HTTPS only (TLS 1.2 or later), every
  // connection's handshake bounded by readTimeout. Empty: plain HTTP.
  std::string tlsCertificatePem;
  std::string tlsPrivateKeyPem;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving; the error names the address.
  Status start();
  // The bound port (after start()).
  int port() const;
  // An HTTPS server's new certificate and key (a renewal): connections
  // accepted from now on present them, open ones keep theirs. Errors when
  // the server is not serving HTTPS or the PEM is refused. Any thread.
  Status replaceTlsCredentials(const std::string& certificatePem, const std::string& privateKeyPem);
  // Idempotent. Requests still unanswered after `grace` lose their connection.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // Connections open now, and requests handed to the handler and not yet answered.
  std::size_t openConnections() const;
  std::size_t requestsInHandler() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// A plain-text response ("text/plain; charset=utf-8").
ServerResponse textResponse(int status, std::string body);

// Starts a one-thread server of small endpoints that answer at once, from the
// request alone (probes, scrapes: the operator's /healthz and /metrics).
// `name` is in its logs and errors.
Result<std::unique_ptr<HttpServer>> startEndpointServer(const std::string& bindAddress, const std::string& name,
                                                        std::function<ServerResponse(const ServerRequest&)> answer);

}  // namespace sluice::http
