#include "gateway/beast_upstream.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

// One call: connect, send, read, then `done`. Runs on its own strand.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, const BeastUpstreamOptions& options, std::function<void(UpstreamResult)> done)
      : stream_(asio::make_strand(io)), options_(options), done_(std::move(done)) {}

  void start(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout) {
    timeout_ = timeout;
    const size_t colon = address.rfind(':');
    std::string host = colon == std::string::npos ? address : address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    asio::ip::address ip = asio::ip::make_address(host, ec);
    if (ec || colon == std::string::npos) return finish(UpstreamOutcome::kNotReached, "bad replica address " + address);
    const auto port = static_cast<unsigned short>(std::stoi(address.substr(colon + 1)));

    request_.method(beast::http::verb::post);
    request_.target(options_.invokePath);
    request_.version(11);
    request_.set(beast::http::field::host, address);
    for (const auto& [name, value] : request.headers) request_.insert(name, value);
    request_.body() = request.body;
    request_.keep_alive(false);
    request_.prepare_payload();

    stream_.expires_after(std::min(timeout_, options_.connectTimeout));
    stream_.async_connect(tcp::endpoint(ip, port), [self = shared_from_this()](beast::error_code connectError) {
      self->onConnect(connectError);
    });
  }

 private:
  void onConnect(beast::error_code ec) {
    if (ec) return finish(UpstreamOutcome::kNotReached, "connect: " + ec.message());
    stream_.expires_after(timeout_);
    beast::http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code writeError, std::size_t) {
      self->onWrite(writeError);
    });
  }

  void onWrite(beast::error_code ec) {
    if (ec) return fail("sending", ec);
    parser_.emplace();
    parser_->body_limit(options_.maxResponseBytes);
    beast::http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code readError, std::size_t) { self->onRead(readError); });
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
    close();
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
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const BeastUpstreamOptions& options_;
  std::function<void(UpstreamResult)> done_;
  std::chrono::milliseconds timeout_{};
  beast::http::request<beast::http::string_body> request_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::response_parser<beast::http::string_body>> parser_;
};

}  // namespace

class BeastUpstream::Impl {
 public:
  explicit Impl(BeastUpstreamOptions options) : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
    for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Impl() {
    work_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
  }

  BeastUpstreamOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

BeastUpstream::BeastUpstream(BeastUpstreamOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

BeastUpstream::~BeastUpstream() = default;

void BeastUpstream::forward(const std::string& address, const UpstreamRequest& request,
                            std::chrono::milliseconds timeout, std::function<void(UpstreamResult)> done) {
  // Started here; its completion handlers then run on its own strand.
  std::make_shared<Exchange>(impl_->io_, impl_->options_, std::move(done))->start(address, request, timeout);
}

}  // namespace sluice::gateway
