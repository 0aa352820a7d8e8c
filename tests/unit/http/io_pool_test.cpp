// IoPool: event loops of one thread each, and an HttpServer running on them
// instead of threads of its own.
#include "http/io_pool.h"

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <future>
#include <set>
#include <thread>

#include "http/http_server.h"

namespace sluice::http {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Where `loop` runs a handler: its thread, and what the pool says about it there.
std::pair<std::thread::id, asio::io_context*> runOn(IoPool& pool, asio::io_context& loop) {
  std::promise<std::pair<std::thread::id, asio::io_context*>> seen;
  asio::post(loop, [&] { seen.set_value({std::this_thread::get_id(), pool.current()}); });
  return seen.get_future().get();
}

TEST(IoPoolTest, EachLoopHasItsOwnThreadAndKnowsItIsCurrentThere) {
  IoPool pool(2);
  ASSERT_EQ(pool.size(), 2u);
  asio::io_context& first = pool.next();
  asio::io_context& second = pool.next();
  EXPECT_NE(&first, &second);
  EXPECT_EQ(&pool.next(), &first) << "in turn";
  EXPECT_EQ(pool.indexOf(first) + pool.indexOf(second), 1u);
  EXPECT_EQ(pool.current(), nullptr) << "the test's thread runs no loop";

  auto [firstThread, firstCurrent] = runOn(pool, first);
  auto [secondThread, secondCurrent] = runOn(pool, second);
  EXPECT_EQ(firstCurrent, &first);
  EXPECT_EQ(secondCurrent, &second);
  EXPECT_NE(firstThread, secondThread);
  EXPECT_EQ(runOn(pool, first).first, firstThread) << "a loop keeps its thread";

  pool.stop();
  pool.stop();  // idempotent
}

std::string get(int port, const std::string& target) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  beast::http::request<beast::http::string_body> request(beast::http::verb::get, target, 11);
  request.set(beast::http::field::host, "test");
  beast::http::write(socket, request);
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> response;
  beast::http::read(socket, buffer, response);
  return response.body();
}

TEST(IoPoolTest, AServerOnAPoolServesItsConnectionsOnThePoolsLoopsAndStopsWithoutStoppingThem) {
  IoPool pool(2);
  std::mutex mu;
  std::set<asio::io_context*> loopsSeen;
  HttpServerOptions options;
  options.ioPool = &pool;
  HttpServer server(options, [&](const ServerRequest& request, const Responder& respond) {
    asio::io_context* here = pool.current();
    {
      std::lock_guard lock(mu);
      loopsSeen.insert(here);
    }
    respond(textResponse(200, here ? "on a loop " + request.target : "elsewhere"));
  });
  ASSERT_TRUE(server.start().isOk());
  // A new connection each: they go to the loops in turn.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(get(server.port(), "/x"), "on a loop /x");
  EXPECT_EQ(loopsSeen.size(), 2u) << "connections spread over both loops";
  EXPECT_EQ(loopsSeen.count(nullptr), 0u);

  server.stop(std::chrono::seconds(1));
  EXPECT_EQ(server.openConnections(), 0u);
  asio::io_context& loop = pool.next();
  EXPECT_EQ(runOn(pool, loop).second, &loop) << "the pool's loops run on after the server stopped";
}

}  // namespace
}  // namespace sluice::http
