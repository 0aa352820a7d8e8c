// Fuzzes the replica's control server on raw HTTP/1.1 requests, without a
// socket: Boost.Beast's parser reads the bytes with the limits the server
// sets, and the request goes to ControlServer::serveControl or serveData (the
// input's first byte picks: odd is the data port; the seeds start with "0" or
// "1") over fake hooks. Checked besides crashes:
// every request is answered, with an HTTP status, and the handler never sees
// the invoke token (the tokens below are in the seed corpus, so the fuzzer
// gets past the token checks).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>

#include <boost/beast/http.hpp>

#include "runtime/control/control_server.h"

namespace {

namespace http = boost::beast::http;
using sluice::Result;
using sluice::Status;

constexpr const char* kControlToken = "fuzz-control-token";
constexpr const char* kInvokeToken = "fuzz-invoke-token";

// Answers like a ready replica; records what reached it.
class FakeHooks : public sluice::runtime::ControlHooks {
 public:
  std::string notReadyReason() override { return ""; }
  std::string metricsText() override { return "# TYPE up gauge\nup 1\n"; }
  Status specialize(const std::string& body) override {
    return body.empty() ? Status(sluice::StatusCode::kInvalidArgument, "empty") : Status::ok();
  }
  void requestDrain() override {}
  Result<std::vector<sluice::runtime::Record>> invoke(const sluice::runtime::InvokeRequest& request) override {
    // The token never reaches the handler.
    for (const auto& [name, value] : request.headers) {
      if (name == "x-sluice-invoke-token") __builtin_trap();
    }
    if (request.body.empty()) return std::vector<sluice::runtime::Record>{};
    return std::vector<sluice::runtime::Record>{{std::nullopt, request.body, {}, std::nullopt, ""},
                                                {std::nullopt, request.trigger, {}, std::nullopt, ""}};
  }
};

sluice::runtime::ControlServer& server() {
  static FakeHooks hooks;
  static sluice::runtime::ControlServer instance(
      [] {
        sluice::runtime::ControlServerOptions options;
        options.specializeToken = kControlToken;
        options.invokeTokens = {kInvokeToken, "previous-token"};
        options.invokeLimits.maxConcurrent = 2;
        options.invokeLimits.maxBodyBytes = 4096;
        return options;
      }(),
      hooks);
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool dataPort = (data[0] & 1) != 0;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  // The header limit of the server's Session (http_server.cpp: kMaxHeaderBytes); bodies are held far below
  // the server's limits, which cap what reaches the handlers, not how it is parsed.
  parser.header_limit(std::uint32_t{64} * 1024);
  parser.body_limit(std::uint64_t{64} * 1024);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data + 1, size - 1), ec);
  if (ec || !parser.is_done()) return 0;
  auto message = parser.release();
  sluice::http::ServerRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remoteAddress = "127.0.0.1:1";

  auto answered = std::make_shared<std::promise<int>>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  // The server's Responder ignores a second call; so does this one.
  sluice::http::Responder respond = [answered, calls](const sluice::http::ServerResponse& response) {
    if (calls->fetch_add(1) == 0) answered->set_value(response.status);
  };
  auto status = answered->get_future();
  if (dataPort) {
    server().serveData(std::move(request), respond);
  } else {
    server().serveControl(std::move(request), respond);
  }
  // Answers come from the runner's threads at once (the hooks do not block).
  if (status.wait_for(std::chrono::seconds(10)) != std::future_status::ready) __builtin_trap();
  const int code = status.get();
  if (code < 200 || code > 599) __builtin_trap();
  return 0;
}
