#include "runtime/handlers/http_handler.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace sluice::runtime {

namespace {

// True when something accepts TCP connections on host:port now.
bool accepting(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool parsed = ::inet_pton(AF_INET, host.c_str(), &address.sin_addr) == 1;
  const bool connected = parsed && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// Header values must be visible ASCII (and spaces): anything else is not sent.
bool printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis % 1000));
  return std::string(buffer) + fraction;
}

constexpr const char* kTerminationLog = "/dev/termination-log";

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

// What one POST ended with: an answer, a timeout, or a transport error.
struct Exchange {
  beast::error_code error;
  beast::http::response<beast::http::string_body> response;
};

// POSTs `request` to host:port, the whole exchange bounded by `timeout`.
Exchange post(const std::string& host, int port, beast::http::request<beast::http::string_body>& request,
              std::chrono::milliseconds timeout) {
  Exchange out;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  stream.expires_after(timeout);
  const tcp::endpoint endpoint(boost::asio::ip::make_address(host, out.error), static_cast<uint16_t>(port));
  if (out.error) return out;
  stream.async_connect(endpoint, [&](beast::error_code connected) {
    if (connected) {
      out.error = connected;
      return;
    }
    beast::http::async_write(stream, request, [&](beast::error_code written, std::size_t) {
      if (written) {
        out.error = written;
        return;
      }
      beast::http::async_read(stream, buffer, out.response,
                              [&](beast::error_code read, std::size_t) { out.error = read; });
    });
  });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

void exitProcess(const std::string& reason) {
  std::cerr << "sluice-runtime: " << reason << "; exiting so the events in flight are redelivered\n";
  // The container's termination message, which the Function's status shows:
  // only where the kubelet made the file (never created elsewhere).
  if (std::filesystem::exists(kTerminationLog)) std::ofstream(kTerminationLog, std::ios::trunc) << reason << "\n";
  // At once, as a crashed Python handler ends the process: no drain, no
  // commit, so the crash marks name the record that was being handled.
  std::_Exit(kHandlerGoneExit);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> httpHandlerHeaders(const Event& event,
                                                                    const InvocationContext& context) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ce-specversion", "1.0"},
      {"ce-id", event.id},
      {"ce-source", event.source + (event.subject.empty() ? "" : ":" + event.subject)},
      {"ce-type", event.type},
      {"X-Sluice-Request-Id", context.requestId.empty() ? event.id : context.requestId},
      {"X-Sluice-Attempt", std::to_string(context.attempt)},
  };
  if (event.time.time_since_epoch().count() != 0) headers.emplace_back("ce-time", rfc3339(event.time));
  if (!event.subject.empty()) headers.emplace_back("ce-subject", event.subject);
  if (!context.triggerName.empty()) headers.emplace_back("X-Sluice-Trigger", context.triggerName);
  if (event.key && printable(*event.key)) headers.emplace_back("X-Sluice-Key", *event.key);
  if (event.partition) headers.emplace_back("X-Sluice-Partition", std::to_string(*event.partition));
  if (event.offset) headers.emplace_back("X-Sluice-Offset", std::to_string(*event.offset));
  for (const auto& [name, value] : event.headers) {
    if (printable(name) && printable(value) && name.find(':') == std::string::npos) {
      headers.emplace_back("X-Sluice-Header-" + name, value);
    }
  }
  return headers;
}

HttpHandler::HttpHandler(HttpHandlerOptions options) : options_(std::move(options)) {
  if (!options_.onHandlerGone) options_.onHandlerGone = exitProcess;
}

Result<std::unique_ptr<HttpHandler>> HttpHandler::create(HttpHandlerOptions options) {
  const auto deadline = std::chrono::steady_clock::now() + options.startWait;
  while (!accepting(options.host, options.port)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return unavailable("runtime http: nothing accepts connections on " + options.host + ":" +
                         std::to_string(options.port) + " after " + std::to_string(options.startWait.count()) +
                         " ms: the handler image must serve HTTP on spec.http.port (docs/handler-images.md)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::unique_ptr<HttpHandler>(new HttpHandler(std::move(options)));
}

std::string HttpHandler::url() const {
  return "http://" + options_.host + ":" + std::to_string(options_.port) + options_.path;
}

// The delivery loop's deadline when it gave one, else the Function's timeout.
std::chrono::milliseconds HttpHandler::timeoutFor(const InvocationContext& context) const {
  if (context.deadline.time_since_epoch().count() == 0) return options_.timeout;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline - context.clock->now());
  return std::max(std::chrono::milliseconds(1), std::min(options_.timeout, left));
}

Result<std::vector<Record>> HttpHandler::handle(const Event& event, const InvocationContext& context) {
  beast::http::request<beast::http::string_body> request{beast::http::verb::post, options_.path, 11};
  request.set(beast::http::field::host, options_.host + ":" + std::to_string(options_.port));
  request.set(beast::http::field::content_type, "application/octet-stream");
  for (const auto& [name, value] : httpHandlerHeaders(event, context)) request.insert(name, value);
  request.body() = event.data;
  request.prepare_payload();
  const std::chrono::milliseconds timeout = timeoutFor(context);
  Exchange exchange = post(options_.host, options_.port, request, timeout);
  if (exchange.error == beast::error::timeout) {
    return Status(StatusCode::kDeadlineExceeded,
                  "http handler " + url() + " did not answer within " + std::to_string(timeout.count()) + " ms");
  }
  if (exchange.error) {
    // Refused, reset, or closed before a whole answer: the server is gone.
    const std::string reason = "the http handler at " + url() + " is gone (" + exchange.error.message() + ")";
    options_.onHandlerGone(reason);
    return unavailable(reason);
  }
  const int status = static_cast<int>(exchange.response.result_int());
  std::string& body = exchange.response.body();
  if (status < 200 || status > 299) {
    return unavailable("http handler answered HTTP " + std::to_string(status) +
                       (body.empty() ? "" : ": " + body.substr(0, 200)));
  }
  std::vector<Record> outputs;
  if (body.empty()) return outputs;
  Record record;
  record.value = std::move(body);
  if (auto key = exchange.response.find("X-Sluice-Key"); key != exchange.response.end()) {
    record.key = std::string(key->value());
  }
  if (auto output = exchange.response.find("X-Sluice-Output"); output != exchange.response.end()) {
    record.sink = std::string(output->value());
  }
  outputs.push_back(std::move(record));
  return outputs;
}

}  // namespace sluice::runtime
