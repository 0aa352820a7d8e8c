// HttpServer on a real loopback socket (port 0): keep-alive, answers from
// other threads, the body limit, graceful stop.
#include "http/http_server.h"

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <future>
#include <thread>

namespace sluice::http {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One client connection for several requests.
class Client {
 public:
  explicit Client(int port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  beast::http::response<beast::http::string_body> send(beast::http::verb verb, const std::string& target,
                                                       std::string body = "") {
    beast::http::request<beast::http::string_body> request(verb, target, 11);
    request.set(beast::http::field::host, "test");
    request.body() = std::move(body);
    request.prepare_payload();
    beast::http::write(socket_, request);
    beast::http::response<beast::http::string_body> response;
    beast::http::read(socket_, buffer_, response);
    return response;
  }
  tcp::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

TEST(HttpServerTest, AnswersSeveralRequestsOnOneKeptAliveConnection) {
  HttpServer server({}, [](ServerRequest request, Responder respond) {
    ServerResponse response = textResponse(200, request.method + " " + request.target + " " + request.body);
    response.headers.emplace_back("X-Seen-Header", request.header("x-test") ? *request.header("x-test") : "-");
    respond(std::move(response));
  });
  ASSERT_TRUE(server.start().isOk());
  Client client(server.port());
  auto first = client.send(beast::http::verb::post, "/a/b?x=1", "hello");
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(first.body(), "POST /a/b?x=1 hello");
  EXPECT_EQ(first[beast::http::field::connection], "");
  auto second = client.send(beast::http::verb::get, "/c");
  EXPECT_EQ(second.body(), "GET /c ");
  EXPECT_EQ(server.openConnections(), 1u);
}

// The answer exactly as written on the wire, read until the server closes.
std::string rawAnswer(ServerResponse answer) {
  answer.closeConnection = true;
  HttpServer server({}, [&answer](ServerRequest, Responder respond) { respond(answer); });
  EXPECT_TRUE(server.start().isOk());
  Client client(server.port());
  beast::http::request<beast::http::string_body> request(beast::http::verb::get, "/", 11);
  request.set(beast::http::field::host, "test");
  beast::http::write(client.socket(), request);
  std::string wire;
  std::array<char, 4096> chunk{};
  beast::error_code ec;
  while (!ec) {
    const std::size_t n = client.socket().read_some(asio::buffer(chunk), ec);
    wire.append(chunk.data(), n);
  }
  return wire;
}

TEST(HttpServerTest, WritesTheServersOwnFramingAndLeavesOutHeadersThatWouldSplitTheAnswer) {
  ServerResponse answer = textResponse(201, "abc");
  answer.headers.emplace_back("content-LENGTH", "999");
  answer.headers.emplace_back("Transfer-Encoding", "chunked");
  answer.headers.emplace_back("X-Split", "a\r\nInjected: yes");
  answer.headers.emplace_back("Bad Name", "x");
  answer.headers.emplace_back("X-Fine", "ok");
  EXPECT_EQ(rawAnswer(answer),
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\nX-Fine: ok\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
  ServerResponse empty;
  empty.status = 204;
  EXPECT_EQ(rawAnswer(empty), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

TEST(HttpServerTest, ChecksHeaderSyntax) {
  EXPECT_TRUE(isHeaderName("X-Sluice_Request.Id"));
  EXPECT_FALSE(isHeaderName(""));
  EXPECT_FALSE(isHeaderName("a b"));
  EXPECT_FALSE(isHeaderName("a:b"));
  EXPECT_TRUE(isHeaderValue("text/plain; q=0.5, \"x\""));
  EXPECT_FALSE(isHeaderValue("a\rb"));
  EXPECT_FALSE(isHeaderValue("a\nb"));
  EXPECT_FALSE(isHeaderValue(std::string("a\0b", 3)));
}

TEST(HttpServerTest, AnswersFromAnotherThreadLater) {
  std::vector<std::thread> workers;
  std::mutex mu;
  HttpServer server({}, [&](ServerRequest request, Responder respond) {
    std::lock_guard lock(mu);
    workers.emplace_back([request = std::move(request), respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      respond(textResponse(201, "late " + request.body));
      respond(textResponse(500, "a second answer is ignored"));
    });
  });
  ASSERT_TRUE(server.start().isOk());
  Client client(server.port());
  auto response = client.send(beast::http::verb::put, "/x", "body");
  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(response.body(), "late body");
  auto again = client.send(beast::http::verb::put, "/x", "two");
  EXPECT_EQ(again.body(), "late two");
  for (auto& worker : workers) worker.join();
}

TEST(HttpServerTest, RefusesABodyOverTheLimitWith413WithoutCallingTheHandler) {
  HttpServerOptions options;
  options.maxBodyBytes = 1024 * 1024;
  std::atomic<int> calls{0};
  HttpServer server(options, [&](ServerRequest, Responder respond) {
    ++calls;
    respond(textResponse(200, "ok"));
  });
  ASSERT_TRUE(server.start().isOk());
  Client client(server.port());
  auto response = client.send(beast::http::verb::post, "/big", std::string(10 * 1024 * 1024, 'x'));
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(calls.load(), 0);
  // A body at the limit is fine.
  Client other(server.port());
  EXPECT_EQ(other.send(beast::http::verb::post, "/ok", std::string(1024 * 1024, 'x')).result_int(), 200);
}

TEST(HttpServerTest, StopLetsARequestInTheHandlerAnswerThenCloses) {
  std::promise<Responder> held;
  HttpServer server({}, [&](ServerRequest, Responder respond) { held.set_value(respond); });
  ASSERT_TRUE(server.start().isOk());
  Client busy(server.port());
  Client idle(server.port());
  auto answer = std::async(std::launch::async, [&] { return busy.send(beast::http::verb::get, "/slow"); });
  Responder respond = held.get_future().get();
  EXPECT_EQ(server.requestsInHandler(), 1u);
  auto stopped = std::async(std::launch::async, [&] { server.stop(std::chrono::seconds(5)); });
  // The idle connection is closed at once; the busy one still gets its answer.
  beast::http::response<beast::http::string_body> none;
  beast::error_code ec;
  beast::http::read(idle.socket(), idle.buffer(), none, ec);
  EXPECT_TRUE(ec) << "an idle connection stays open during stop";
  respond(textResponse(200, "finished"));
  auto response = answer.get();
  EXPECT_EQ(response.body(), "finished");
  EXPECT_FALSE(response.keep_alive());
  stopped.get();
  EXPECT_EQ(server.openConnections(), 0u);
}

TEST(HttpServerTest, StartNamesTheAddressItCannotBind) {
  HttpServer first({}, [](ServerRequest, Responder respond) { respond(textResponse(200, "")); });
  ASSERT_TRUE(first.start().isOk());
  HttpServerOptions options;
  options.bindAddress = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(options, [](ServerRequest, Responder respond) { respond(textResponse(200, "")); });
  Status status = second.start();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(options.bindAddress), std::string::npos) << status.message();
}

}  // namespace
}  // namespace sluice::http
