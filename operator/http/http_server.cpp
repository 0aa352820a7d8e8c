#include "http/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "common/logging.h"
#include "http/io_pool.h"

namespace sluice::http {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A header block bigger than this is refused (431), as most servers do.
constexpr std::size_t kMaxHeaderBytes = std::size_t{64} * 1024;
// After refusing a body, how long and how much of it is read and dropped so
// the client, still sending, reads the answer instead of a reset.
constexpr std::chrono::seconds kLingerTime{2};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// 1xx, 204 and 304 answers have no body and no Content-Length (RFC 9110 8.6).
bool hasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

// The answer as it goes on the wire, in one string: Beast's serializer walks
// its header and body buffers piece by piece, which was a large share of the
// gateway's CPU per request (BENCHMARKS.md, issue 13). Content-Length,
// Transfer-Encoding and Connection are the server's own; a header that is not
// valid field syntax is left out (the gateway refuses such handler answers
// with a 502 before they get here; this keeps any other caller from
// splitting a response).
std::string wireResponse(const ServerResponse& answer, bool keepAlive) {
  const auto reason = beast::http::obsolete_reason(static_cast<beast::http::status>(answer.status));
  std::string wire;
  std::size_t size = answer.body.size() + reason.size() + 64;
  for (const auto& [name, value] : answer.headers) size += name.size() + value.size() + 4;
  wire.reserve(size);
  wire.append("HTTP/1.1 ").append(std::to_string(answer.status)).append(" ");
  wire.append(reason.data(), reason.size()).append("\r\n");
  for (const auto& [name, value] : answer.headers) {
    if (sameName(name, "content-length") || sameName(name, "transfer-encoding") || sameName(name, "connection"))
      continue;
    if (!isHeaderName(name) || !isHeaderValue(value)) continue;
    wire.append(name).append(": ").append(value).append("\r\n");
  }
  if (!hasNoBody(answer.status))
    wire.append("Content-Length: ").append(std::to_string(answer.body.size())).append("\r\n");
  if (!keepAlive) wire.append("Connection: close\r\n");
  wire.append("\r\n");
  if (!hasNoBody(answer.status)) wire.append(answer.body);
  return wire;
}

}  // namespace

bool isHeaderName(std::string_view name) {
  static constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && kTokenPunctuation.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool isHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

const std::string* ServerRequest::header(const std::string& lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return &value;
  }
  return nullptr;
}

ServerResponse textResponse(int status, std::string body) {
  ServerResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body = std::move(body);
  return response;
}

Result<std::unique_ptr<HttpServer>> startEndpointServer(const std::string& bindAddress, const std::string& name,
                                                        std::function<ServerResponse(const ServerRequest&)> answer) {
  HttpServerOptions options;
  options.bindAddress = bindAddress;
  options.name = name;
  options.threads = 1;
  options.maxBodyBytes = std::size_t{64} * 1024;  // probes and scrapes send no body
  auto server = std::make_unique<HttpServer>(
      options, [answer = std::move(answer)](const ServerRequest& request, const Responder& respond) {
        respond(answer(request));
      });
  if (Status status = server->start(); !status.isOk()) return status;
  return server;
}

namespace {

// A server context for a certificate and key: TLS 1.2 and later. Null (OK) when both are empty.
Result<std::shared_ptr<asio::ssl::context>> makeTlsContext(const std::string& name, const std::string& certificatePem,
                                                           const std::string& privateKeyPem) {
  if (certificatePem.empty() && privateKeyPem.empty()) return std::shared_ptr<asio::ssl::context>();
  if (certificatePem.empty() || privateKeyPem.empty()) {
    return invalidArgument(name + ": TLS needs both a certificate and its key");
  }
  try {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                         asio::ssl::context::single_dh_use);
    context->use_certificate_chain(asio::buffer(certificatePem));
    context->use_private_key(asio::buffer(privateKeyPem), asio::ssl::context::pem);
    return context;
  } catch (const std::exception& e) {
    return invalidArgument(name + ": TLS certificate or key refused: " + e.what());
  }
}

}  // namespace

// What stop() needs of a connection, whichever stream it runs on.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void closeIfIdle() = 0;
  virtual void forceClose() = 0;
};

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(HttpServerOptions options, RequestHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)), acceptor_(nextLoop()) {}

  // Where the next connection runs: the pool's loops in turn, else the server's own io_context.
  asio::io_context& nextLoop() { return options_.ioPool ? options_.ioPool->next() : io_; }

  Status start();
  void stop(std::chrono::milliseconds grace);
  void accept();
  std::shared_ptr<asio::ssl::context> currentTls() const {
    std::lock_guard lock(tlsMu_);
    return tls_;
  }

  void sessionOpened(std::uint64_t id, const std::shared_ptr<Connection>& session);
  template <class Stream, class... StreamArguments>
  void serve(std::uint64_t id, StreamArguments&&... arguments);
  void sessionClosed(std::uint64_t id);
  void requestStarted() { ++inHandler_; }
  void requestFinished() {
    std::lock_guard lock(mu_);
    --inHandler_;
    cv_.notify_all();
  }

  const HttpServerOptions options_;
  const RequestHandler handler_;
  // Declared before io_: connections still queued in io_ unregister
  // themselves when it is destroyed.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, std::weak_ptr<Connection>> sessions_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> inHandler_{0};
  std::atomic<std::uint64_t> nextSession_{0};
  std::atomic<bool> started_{false};
  int port_ = 0;

  asio::io_context io_;
  tcp::acceptor acceptor_;
  // Set by start() when the options carry a certificate; replaced by
  // replaceTlsCredentials. Each connection's SSL holds a reference to the
  // context it was made from, and replaced contexts are kept too (one a
  // renewal), so none goes while a connection uses it.
  std::shared_ptr<asio::ssl::context> tls_;                   // guarded by tlsMu_
  std::vector<std::shared_ptr<asio::ssl::context>> retired_;  // guarded by tlsMu_
  mutable std::mutex tlsMu_;
  std::vector<std::thread> threads_;
};

// One connection: reads requests one after another (HTTP/1.1 keep-alive),
// hands each to the handler and writes its answer. Everything runs on the
// connection's strand; the Responder posts onto it. Stream: a plain
// beast::tcp_stream, or an ssl_stream over one (HTTPS, handshake first).
template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... StreamArguments>
  Session(std::shared_ptr<HttpServer::Impl> server, std::uint64_t id, StreamArguments&&... arguments)
      : stream_(std::forward<StreamArguments>(arguments)...), server_(std::move(server)), id_(id) {}

  ~Session() override { server_->sessionClosed(id_); }

  void run() {
    beast::error_code ec;
    auto remote = lowest().socket().remote_endpoint(ec);
    if (!ec) remoteAddress_ = remote.address().to_string() + ":" + std::to_string(remote.port());
    if constexpr (kTls) {
      // The handshake is several small writes in a row: with Nagle's algorithm each waits for the
      // client's delayed ACK (40 ms a call, measured).
      lowest().socket().set_option(tcp::no_delay(true), ec);
      lowest().expires_after(server_->options_.readTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = me()](beast::error_code handshakeError) {
        if (handshakeError) {
          SLUICE_LOG_DEBUG("{}: TLS handshake with {} failed: {}", self->server_->options_.name, self->remoteAddress_,
                           handshakeError.message());
          return self->close();
        }
        self->readHeader();
      });
    } else {
      readHeader();
    }
  }

  // From stop(): an idle connection goes now; a busy one after its answer.
  void closeIfIdle() override {
    asio::post(stream_.get_executor(), [self = me()] {
      if (!self->handling_) self->close();
    });
  }

  void forceClose() override {
    asio::post(stream_.get_executor(), [self = me()] { self->close(); });
  }

 private:
  std::shared_ptr<Session> me() { return this->shared_from_this(); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void readHeader() {
    if (server_->stopping_) return close();
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // With a per-request limit, onHeader() sets it once it knows the target.
    parser_->body_limit(server_->options_.bodyLimitFor ? std::numeric_limits<std::uint64_t>::max()
                                                       : server_->options_.maxBodyBytes);
    // The first request may take readTimeout; an idle kept-alive one idleTimeout.
    lowest().expires_after(requestsServed_ == 0 ? server_->options_.readTimeout : server_->options_.idleTimeout);
    beast::http::async_read_header(stream_, buffer_, *parser_,
                                   [self = me()](beast::error_code ec, std::size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    bodyLimit_ = server_->options_.maxBodyBytes;
    if (ec == beast::http::error::body_limit) return refuse(413, bodyTooLarge());
    if (ec == beast::http::error::header_limit) return refuse(431, "request header block too large\n");
    if (ec) return close();
    lowest().expires_after(server_->options_.readTimeout);
    const auto& header = parser_->get();
    if (server_->options_.bodyLimitFor) {
      bodyLimit_ = std::min(bodyLimit_, server_->options_.bodyLimitFor(std::string(header.method_string()),
                                                                       std::string(header.target())));
      if (auto length = parser_->content_length(); length && *length > bodyLimit_) return refuse(413, bodyTooLarge());
      parser_->body_limit(bodyLimit_);
    }
    auto expect = header.find(beast::http::field::expect);
    if (expect != header.end() && lower(std::string(expect->value())) == "100-continue" && !parser_->is_done()) {
      auto interim = std::make_shared<beast::http::response<beast::http::empty_body>>(beast::http::status::continue_,
                                                                                      header.version());
      beast::http::async_write(stream_, *interim, [self = me(), interim](beast::error_code writeError, std::size_t) {
        if (writeError) return self->close();
        self->readBody();
      });
      return;
    }
    readBody();
  }

  void readBody() {
    beast::http::async_read(stream_, buffer_, *parser_,
                            [self = me()](beast::error_code ec, std::size_t) { self->onRequest(ec); });
  }

  void onRequest(beast::error_code ec) {
    if (ec == beast::http::error::body_limit) {
      // A chunked body grew past the limit while being read.
      return refuse(413, bodyTooLarge());
    }
    if (ec) return close();
    lowest().expires_never();
    auto message = parser_->release();
    keepAlive_ = message.keep_alive();
    ServerRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message)
      request.headers.emplace_back(lower(std::string(field.name_string())), field.value());
    request.body = std::move(message.body());
    request.remoteAddress = remoteAddress_;
    handling_ = true;
    ++requestsServed_;
    server_->requestStarted();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Responder respond = [self = me(), answered](ServerResponse response) {
      if (answered->exchange(true)) return;
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    };
    try {
      server_->handler_(std::move(request), respond);
    } catch (const std::exception& e) {
      SLUICE_LOG_ERROR("{}: handler threw: {}", server_->options_.name, e.what());
      respond(textResponse(500, std::string("internal error: ") + e.what() + "\n"));
    }
  }

  void write(const ServerResponse& answer) {
    const bool keepAlive = keepAlive_ && !server_->stopping_ && !answer.closeConnection;
    auto wire = std::make_shared<std::string>(wireResponse(answer, keepAlive));
    lowest().expires_after(server_->options_.readTimeout);
    asio::async_write(stream_, asio::buffer(*wire), [self = me(), wire, keepAlive](beast::error_code ec, std::size_t) {
      self->handling_ = false;
      self->server_->requestFinished();
      if (ec || !keepAlive) return self->close();
      self->readHeader();
    });
  }

  std::string bodyTooLarge() const {
    return "request body larger than the limit of " + std::to_string(bodyLimit_) + " bytes\n";
  }

  // Answers `status` and closes, reading and dropping what the client still sends.
  void refuse(int status, std::string text) {
    auto response = std::make_shared<beast::http::response<beast::http::string_body>>();
    response->version(11);
    response->result(static_cast<unsigned>(status));
    response->set(beast::http::field::content_type, "text/plain; charset=utf-8");
    response->body() = std::move(text);
    response->keep_alive(false);
    response->prepare_payload();
    lowest().expires_after(kLingerTime);
    beast::http::async_write(stream_, *response, [self = me(), response](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      beast::error_code ignored;
      self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->drain();
    });
  }

  void drain() {
    stream_.async_read_some(asio::buffer(drainBuffer_), [self = me()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  // The connection counts as closed from here, even while a Responder still
  // holds this object.
  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
    server_->sessionClosed(id_);
  }

  Stream stream_;
  std::shared_ptr<HttpServer::Impl> server_;
  const std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::array<char, 16 * 1024> drainBuffer_{};
  std::string remoteAddress_;
  std::size_t bodyLimit_ = 0;  // of the request being read
  bool keepAlive_ = true;
  bool handling_ = false;
  std::uint64_t requestsServed_ = 0;
};

void HttpServer::Impl::sessionOpened(std::uint64_t id, const std::shared_ptr<Connection>& session) {
  std::lock_guard lock(mu_);
  sessions_[id] = session;
}

void HttpServer::Impl::sessionClosed(std::uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  cv_.notify_all();
}

Status HttpServer::Impl::start() {
  const std::string& address = options_.bindAddress;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return invalidArgument(options_.name + ": bind address " + address + " has no port");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  auto tls = makeTlsContext(options_.name, options_.tlsCertificatePem, options_.tlsPrivateKeyPem);
  if (!tls.isOk()) return tls.status();
  {
    std::lock_guard lock(tlsMu_);
    tls_ = *tls;
  }
  try {
    tcp::endpoint endpoint(asio::ip::make_address(host),
                           static_cast<unsigned short>(std::stoi(address.substr(colon + 1))));
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
  } catch (const std::exception& e) {
    return unavailable(options_.name + " on " + address + ": " + e.what());
  }
  accept();
  started_ = true;
  for (int i = 0; !options_.ioPool && i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] {
      try {
        io_.run();
      } catch (const std::exception& e) {
        SLUICE_LOG_ERROR("{}: {}", options_.name, e.what());
      }
    });
  }
  SLUICE_LOG_INFO("{} listening on {}:{}{}", options_.name, host, port_, currentTls() ? " (HTTPS)" : "");
  return Status::ok();
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept(asio::make_strand(nextLoop()),
                         [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                           if (ec == asio::error::operation_aborted || self->stopping_) return;
                           if (!ec) {
                             const std::uint64_t id = ++self->nextSession_;
                             std::shared_ptr<asio::ssl::context> tls = self->currentTls();
                             if (tls) {
                               self->serve<beast::ssl_stream<beast::tcp_stream>>(id, std::move(socket), *tls);
                             } else {
                               self->serve<beast::tcp_stream>(id, std::move(socket));
                             }
                           }
                           self->accept();
                         });
}

template <class Stream, class... StreamArguments>
void HttpServer::Impl::serve(std::uint64_t id, StreamArguments&&... arguments) {
  auto session = std::make_shared<Session<Stream>>(shared_from_this(), id, std::forward<StreamArguments>(arguments)...);
  sessionOpened(id, session);
  session->run();
}

void HttpServer::Impl::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
  auto each = [this](auto action) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, weak] : sessions_) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    for (auto& session : live) action(*session);
  };
  each([](Connection& session) { session.closeIfIdle(); });
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, grace, [this] { return inHandler_ == 0; });
  }
  each([](Connection& session) { session.forceClose(); });
  {
    // Closing is posted to each connection's strand: give them a moment to run.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return sessions_.empty(); });
  }
  // On a pool, its loops go on running what the closes left queued.
  if (options_.ioPool) return;
  io_.stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  // Run what the closes left queued (each connection's last completion
  // handler), so no connection keeps this server alive through io_.
  io_.restart();
  io_.poll();
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() { return impl_->start(); }

int HttpServer::port() const { return impl_->port_; }

Status HttpServer::replaceTlsCredentials(const std::string& certificatePem, const std::string& privateKeyPem) {
  if (!impl_->currentTls())
    return Status(StatusCode::kFailedPrecondition, impl_->options_.name + ": not serving HTTPS");
  auto tls = makeTlsContext(impl_->options_.name, certificatePem, privateKeyPem);
  if (!tls.isOk()) return tls.status();
  if (!*tls) return invalidArgument(impl_->options_.name + ": TLS needs both a certificate and its key");
  std::lock_guard lock(impl_->tlsMu_);
  impl_->retired_.push_back(std::move(impl_->tls_));
  impl_->tls_ = *tls;
  return Status::ok();
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  if (!impl_->started_) {
    impl_->stopping_ = true;
    return;
  }
  impl_->stop(grace);
}

std::size_t HttpServer::openConnections() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->sessions_.size();
}

std::size_t HttpServer::requestsInHandler() const { return impl_->inHandler_.load(); }

}  // namespace sluice::http
