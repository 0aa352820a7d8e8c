// ConnectionPool on real loopback connections (an acceptor on port 0): a
// connection given back is taken again, newest first; one idle longer than
// maxIdle, or closed by the replica, is never handed out; the per-replica
// bound, drop() and addresses kept apart.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include "gateway/connection_pool.h"

namespace sluice::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class ConnectionPoolTest : public ::testing::Test {
 protected:
  // A connected stream to the test's acceptor; the accepted end is kept in peers_.
  std::unique_ptr<ConnectionPool::Stream> connect() {
    auto stream = std::make_unique<ConnectionPool::Stream>(io_);
    stream->connect(acceptor_.local_endpoint());
    peers_.push_back(acceptor_.accept());
    return stream;
  }
  static int portOf(const ConnectionPool::Stream& stream) { return stream.socket().local_endpoint().port(); }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<tcp::socket> peers_;
  const ConnectionPool::Clock::time_point t0_ = ConnectionPool::Clock::now();
};

TEST_F(ConnectionPoolTest, AGivenConnectionIsTakenAgainNewestFirstAndOnlyForItsAddress) {
  ConnectionPool pool(4, 2000ms);
  EXPECT_EQ(pool.take("10.0.0.1:8090", t0_), nullptr);
  auto first = connect();
  auto second = connect();
  const int firstPort = portOf(*first), secondPort = portOf(*second);
  pool.give("10.0.0.1:8090", std::move(first), t0_);
  pool.give("10.0.0.1:8090", std::move(second), t0_);
  EXPECT_EQ(pool.idle("10.0.0.1:8090"), 2u);
  EXPECT_EQ(pool.take("10.0.0.2:8090", t0_), nullptr);

  auto taken = pool.take("10.0.0.1:8090", t0_ + 10ms);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(portOf(*taken), secondPort);
  taken = pool.take("10.0.0.1:8090", t0_ + 10ms);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(portOf(*taken), firstPort);
  EXPECT_EQ(pool.take("10.0.0.1:8090", t0_ + 10ms), nullptr);
  EXPECT_EQ(pool.idle("10.0.0.1:8090"), 0u);
}

TEST_F(ConnectionPoolTest, AConnectionIdleLongerThanMaxIdleIsClosedNotHandedOut) {
  ConnectionPool pool(4, 2000ms);
  pool.give("r:1", connect(), t0_);
  EXPECT_EQ(pool.take("r:1", t0_ + 2001ms), nullptr);
  EXPECT_EQ(pool.idle("r:1"), 0u);
  // The pool closed it: the replica's end reads end of stream.
  boost::system::error_code ec;
  char byte;
  peers_.back().read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(ConnectionPoolTest, AConnectionTheReplicaClosedIsSkippedForAnOpenOne) {
  ConnectionPool pool(4, 2000ms);
  auto open = connect();
  const int openPort = portOf(*open);
  pool.give("r:1", std::move(open), t0_);
  pool.give("r:1", connect(), t0_);
  peers_.back().close();  // the replica closes the newest connection (e.g. "Connection: close", an exit)
  // On loopback its FIN is in the socket before close() returns.
  auto taken = pool.take("r:1", t0_);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(portOf(*taken), openPort);
  EXPECT_EQ(pool.idle("r:1"), 0u);
}

TEST_F(ConnectionPoolTest, AConnectionOnWhichTheReplicaSentUnaskedIsNotReused) {
  ConnectionPool pool(4, 2000ms);
  pool.give("r:1", connect(), t0_);
  const char stray[] = "HTTP/1.1 408 Request Timeout\r\n\r\n";
  asio::write(peers_.back(), asio::buffer(stray, sizeof stray - 1));
  EXPECT_EQ(pool.take("r:1", t0_), nullptr);
}

TEST_F(ConnectionPoolTest, AtMostPerAddressAreKeptAndDropForgetsAReplica) {
  ConnectionPool pool(2, 2000ms);
  for (int i = 0; i < 3; ++i) pool.give("r:1", connect(), t0_);
  pool.give("r:2", connect(), t0_);
  EXPECT_EQ(pool.idle("r:1"), 2u);
  pool.drop("r:1");
  EXPECT_EQ(pool.idle("r:1"), 0u);
  EXPECT_EQ(pool.take("r:1", t0_), nullptr);
  EXPECT_NE(pool.take("r:2", t0_), nullptr);
}

TEST_F(ConnectionPoolTest, ZeroPerAddressKeepsNothing) {
  ConnectionPool pool(0, 2000ms);
  pool.give("r:1", connect(), t0_);
  EXPECT_EQ(pool.idle("r:1"), 0u);
  EXPECT_EQ(pool.take("r:1", t0_), nullptr);
}

}  // namespace
}  // namespace sluice::gateway
