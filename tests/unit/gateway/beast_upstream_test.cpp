// BeastUpstream on a shared IoPool, against a real replica (an HttpServer on
// loopback): a call forwarded from a loop's thread is answered on that same
// thread (no hand-off between threads), over one kept-alive connection.
#include "gateway/beast_upstream.h"

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>

#include <future>
#include <thread>

#include "http/http_server.h"
#include "http/io_pool.h"

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;

struct Answer {
  UpstreamResult result;
  std::thread::id forwardedOn;
  std::thread::id answeredOn;
};

// Forwards `body` from a thread of `loop` (or from the test's thread when loop is null) and waits for the answer.
Answer call(BeastUpstream& upstream, boost::asio::io_context* loop, const std::string& address,
            const std::string& body) {
  auto answer = std::make_shared<std::promise<Answer>>();
  auto forward = [&upstream, address, body, answer] {
    const std::thread::id forwardedOn = std::this_thread::get_id();
    UpstreamRequest request;
    request.headers.emplace_back("X-Test", "1");
    request.body = body;
    upstream.forward(address, request, 5s, [answer, forwardedOn](UpstreamResult result) {
      answer->set_value(Answer{std::move(result), forwardedOn, std::this_thread::get_id()});
    });
  };
  if (loop) {
    boost::asio::post(*loop, forward);
  } else {
    forward();
  }
  return answer->get_future().get();
}

TEST(BeastUpstreamTest, ACallFromALoopIsAnsweredOnThatLoopsThreadOverOneKeptAliveConnection) {
  http::HttpServerOptions replicaOptions;
  replicaOptions.threads = 1;
  http::HttpServer replica(replicaOptions, [](http::ServerRequest request, const http::Responder& respond) {
    const std::string* test = request.header("x-test");
    respond(http::textResponse(200, request.target + " " + (test ? *test : "-") + " " + request.body));
  });
  ASSERT_TRUE(replica.start().isOk());
  const std::string address = "127.0.0.1:" + std::to_string(replica.port());

  http::IoPool loops(2);
  BeastUpstream upstream({}, &loops);
  boost::asio::io_context& loop = loops.next();
  for (int i = 0; i < 3; ++i) {
    Answer answer = call(upstream, &loop, address, "call " + std::to_string(i));
    ASSERT_EQ(answer.result.outcome, UpstreamOutcome::kAnswered) << answer.result.error;
    EXPECT_EQ(answer.result.response.status, 200);
    EXPECT_EQ(answer.result.response.body, "/invoke 1 call " + std::to_string(i));
    EXPECT_EQ(answer.answeredOn, answer.forwardedOn) << "call " << i << " changed threads";
  }
  EXPECT_EQ(replica.openConnections(), 1u) << "the three calls took turns on one kept-alive connection";

  // From a thread that runs no loop (the Dispatcher's ticker): on one of the loops, still answered.
  Answer fromElsewhere = call(upstream, nullptr, address, "ticker");
  ASSERT_EQ(fromElsewhere.result.outcome, UpstreamOutcome::kAnswered) << fromElsewhere.result.error;
  EXPECT_EQ(fromElsewhere.result.response.body, "/invoke 1 ticker");
  loops.stop();
}

TEST(BeastUpstreamTest, WithoutAPoolItRunsOnLoopsOfItsOwn) {
  http::HttpServer replica(
      {}, [](const http::ServerRequest&, const http::Responder& respond) { respond(http::textResponse(200, "own")); });
  ASSERT_TRUE(replica.start().isOk());
  BeastUpstream upstream;
  Answer answer = call(upstream, nullptr, "127.0.0.1:" + std::to_string(replica.port()), "");
  ASSERT_EQ(answer.result.outcome, UpstreamOutcome::kAnswered) << answer.result.error;
  EXPECT_EQ(answer.result.response.body, "own");
  EXPECT_NE(answer.answeredOn, std::this_thread::get_id());
}

}  // namespace
}  // namespace sluice::gateway
