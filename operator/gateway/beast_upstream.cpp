#include "gateway/beast_upstream.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/connection_pool.h"
#include "http/io_pool.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::gateway {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The request as it goes on the wire, written out in one string: Beast's
// serializer walked its header and body buffers piece by piece and was a
// fifth of the gateway's CPU per request (profile in BENCHMARKS.md). Every
// name and value here was parsed by the server from the client's request
// (which refuses CR and LF in them) or is the gateway's own.
std::string wireRequest(const std::string& target, const std::string& host, const UpstreamRequest& request,
                        bool keepAlive) {
  std::string wire;
  std::size_t size = target.size() + host.size() + request.body.size() + 96;
  for (const auto& [name, value] : request.headers) size += name.size() + value.size() + 4;
  wire.reserve(size);
  wire.append("POST ").append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
  for (const auto& [name, value] : request.headers) wire.append(name).append(": ").append(value).append("\r\n");
  wire.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  if (!keepAlive) wire.append("Connection: close\r\n");
  wire.append("\r\n").append(request.body);
  return wire;
}

// One call: a kept-alive connection to the replica or a new one, send, read,
// then `done`. Its handlers run on the connection's strand.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, ConnectionPool& pool, const BeastUpstreamOptions& options,
           std::function<void(UpstreamResult)> done)
      : io_(io), pool_(pool), options_(options), done_(std::move(done)) {}

  void start(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout) {
    timeout_ = timeout;
    address_ = address;
    wire_ = wireRequest(options_.invokePath, address, request, options_.idleConnectionsPerReplica > 0);

    stream_ = pool_.take(address);
    if (stream_) {
      reused_ = true;
      return send();
    }
    const size_t colon = address.rfind(':');
    std::string host = colon == std::string::npos ? address : address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    asio::ip::address ip = asio::ip::make_address(host, ec);
    if (ec || colon == std::string::npos) return finish(UpstreamOutcome::kNotReached, "bad replica address " + address);
    const auto port = static_cast<unsigned short>(std::stoi(address.substr(colon + 1)));
    stream_ = std::make_unique<beast::tcp_stream>(asio::make_strand(io_));
    stream_->expires_after(std::min(timeout_, options_.connectTimeout));
    stream_->async_connect(tcp::endpoint(ip, port), [self = shared_from_this()](beast::error_code connectError) {
      if (connectError) return self->finish(UpstreamOutcome::kNotReached, "connect: " + connectError.message());
      self->send();
    });
  }

 private:
  void send() {
    stream_->expires_after(timeout_);
    asio::async_write(*stream_, asio::buffer(wire_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      // A kept-alive connection the replica has dropped takes no request:
      // the write fails before the replica has all of it, so trying again is safe.
      if (ec && self->reused_)
        return self->finish(UpstreamOutcome::kNotReached, "kept-alive connection: " + ec.message());
      if (ec) return self->fail("sending", ec);
      self->parser_.emplace();
      self->parser_->body_limit(self->options_.maxResponseBytes);
      beast::http::async_read(*self->stream_, self->buffer_, *self->parser_,
                              [self](beast::error_code readError, std::size_t) { self->onRead(readError); });
    });
  }

  void onRead(beast::error_code ec) {
    if (ec) return fail("reading the answer", ec);
    auto message = parser_->release();
    UpstreamResult result;
    result.response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      result.response.headers.emplace_back(lower(std::string(field.name_string())), field.value());
    }
    result.response.body = std::move(message.body());
    if (result.response.status == 503 && message.find("X-Sluice-Not-Handled") != message.end()) {
      close();
      pool_.drop(address_);
      const std::string reason(message["X-Sluice-Not-Handled"]);
      result.outcome = refusalOutcome(reason);
      result.error = "the replica takes no invocations: " + reason;
    } else if (message.keep_alive() && buffer_.size() == 0) {
      stream_->expires_never();
      pool_.give(address_, std::move(stream_));
    } else {
      close();
    }
    done_(std::move(result));
  }

  void fail(const char* when, beast::error_code ec) {
    finish(ec == beast::error::timeout ? UpstreamOutcome::kTimedOut : UpstreamOutcome::kFailed,
           std::string(when) + ": " + ec.message());
  }

  void finish(UpstreamOutcome outcome, std::string error) {
    close();
    UpstreamResult result;
    result.outcome = outcome;
    result.error = std::move(error);
    done_(std::move(result));
  }

  void close() {
    if (!stream_) return;
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
  }

  asio::io_context& io_;
  ConnectionPool& pool_;
  const BeastUpstreamOptions& options_;
  std::function<void(UpstreamResult)> done_;
  std::string address_;
  std::chrono::milliseconds timeout_{};
  std::unique_ptr<beast::tcp_stream> stream_;
  bool reused_ = false;
  std::string wire_;  // the request as sent
  beast::flat_buffer buffer_;
  std::optional<beast::http::response_parser<beast::http::string_body>> parser_;
};

}  // namespace

class BeastUpstream::Impl {
 public:
  Impl(BeastUpstreamOptions options, http::IoPool* pool)
      : options_(std::move(options)),
        ownPool_(pool ? nullptr : std::make_unique<http::IoPool>(options_.threads, "gateway upstream")),
        pool_(pool ? *pool : *ownPool_) {
    // One ConnectionPool per loop: a kept-alive connection is bound to the loop it was made on.
    for (std::size_t i = 0; i < pool_.size(); ++i) {
      connections_.push_back(std::make_unique<ConnectionPool>(options_.idleConnectionsPerReplica, options_.maxIdle));
    }
  }
  ~Impl() {
    if (ownPool_) ownPool_->stop();
  }

  BeastUpstreamOptions options_;
  std::unique_ptr<http::IoPool> ownPool_;  // before connections_: their sockets close while its loops exist
  http::IoPool& pool_;
  std::vector<std::unique_ptr<ConnectionPool>> connections_;
};

BeastUpstream::BeastUpstream(BeastUpstreamOptions options, http::IoPool* pool)
    : impl_(std::make_unique<Impl>(std::move(options), pool)) {}

BeastUpstream::~BeastUpstream() = default;

void BeastUpstream::forward(const std::string& address, const UpstreamRequest& request,
                            std::chrono::milliseconds timeout, std::function<void(UpstreamResult)> done) {
  // The loop of the calling thread (the one that read the client's request), else the next.
  asio::io_context& loop = impl_->pool_.currentOrNext();
  ConnectionPool& connections = *impl_->connections_[impl_->pool_.indexOf(loop)];
  std::make_shared<Exchange>(loop, connections, impl_->options_, std::move(done))->start(address, request, timeout);
}

}  // namespace sluice::gateway
