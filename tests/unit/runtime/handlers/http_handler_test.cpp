// runtime http (docs/handler-images.md) against a fake handler server on
// 127.0.0.1: what each POST carries, how answers become outputs or errors,
// calls at once up to the Function's concurrency, and a server that goes away.
#include "runtime/handlers/http_handler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "http/http_server.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

// A handler server whose answers the test chooses; records every request.
class FakeServer {
 public:
  explicit FakeServer(http::RequestHandler answer) {
    http::HttpServerOptions options;
    options.threads = 4;
    server_ = std::make_unique<http::HttpServer>(options,
                                                 [this, answer](http::ServerRequest request, http::Responder respond) {
                                                   {
                                                     std::lock_guard lock(mu_);
                                                     requests_.push_back(request);
                                                   }
                                                   answer(std::move(request), std::move(respond));
                                                 });
    EXPECT_TRUE(server_->start().isOk());
  }
  int port() const { return server_->port(); }
  void stop() { server_->stop(0ms); }
  std::vector<http::ServerRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  std::vector<http::ServerRequest> requests_;
};

struct Gone {
  std::mutex mu;
  std::vector<std::string> reasons;
};

Result<std::unique_ptr<HttpHandler>> handlerFor(int port, Gone& gone, std::chrono::milliseconds timeout = 5s) {
  HttpHandlerOptions options;
  options.port = port;
  options.path = "/events";
  options.timeout = timeout;
  options.startWait = 300ms;
  options.onHandlerGone = [&gone](const std::string& reason) {
    std::lock_guard lock(gone.mu);
    gone.reasons.push_back(reason);
  };
  return HttpHandler::create(std::move(options));
}

Event kafkaEvent(const std::string& data) {
  Event event;
  event.id = "orders/3/41";
  event.source = "kafka";
  event.type = "kafka.record";
  event.subject = "orders";
  event.key = "customer-9";
  event.partition = 3;
  event.offset = 41;
  event.headers = {{"trace", "abc"}};
  event.data = data;
  return event;
}

TEST(HttpHandlerTest, PostsTheEventAndTurnsA2xxBodyIntoTheOutput) {
  FakeServer server([](http::ServerRequest request, http::Responder respond) {
    http::ServerResponse response = http::textResponse(200, "seen:" + request.body);
    response.headers.emplace_back("X-Sluice-Key", "k2");
    respond(std::move(response));
  });
  Gone gone;
  auto handler = handlerFor(server.port(), gone);
  ASSERT_TRUE(handler.isOk()) << handler.status().toString();
  InvocationContext context;
  context.attempt = 2;
  context.triggerName = "orders-trigger";
  auto outputs = (*handler)->handle(kafkaEvent(std::string("a\0b", 3)), context);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].value, std::string("seen:a\0b", 8));
  EXPECT_EQ((*outputs)[0].key, "k2");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const http::ServerRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/events");
  EXPECT_EQ(r.body, std::string("a\0b", 3));
  EXPECT_EQ(*r.header("ce-id"), "orders/3/41");
  EXPECT_EQ(*r.header("ce-type"), "kafka.record");
  EXPECT_EQ(*r.header("ce-source"), "kafka:orders");
  EXPECT_EQ(*r.header("x-sluice-key"), "customer-9");
  EXPECT_EQ(*r.header("x-sluice-partition"), "3");
  EXPECT_EQ(*r.header("x-sluice-offset"), "41");
  EXPECT_EQ(*r.header("x-sluice-attempt"), "2");
  EXPECT_EQ(*r.header("x-sluice-trigger"), "orders-trigger");
  EXPECT_EQ(*r.header("x-sluice-header-trace"), "abc");
  EXPECT_TRUE(gone.reasons.empty());
}

TEST(HttpHandlerTest, AnEmptyAnswerHasNoOutputAndANon2xxIsARetriedFailure) {
  std::atomic<int> calls{0};
  FakeServer server([&calls](http::ServerRequest, http::Responder respond) {
    http::ServerResponse noContent;
    noContent.status = 204;
    respond(++calls == 1 ? noContent : http::textResponse(500, "boom"));
  });
  Gone gone;
  auto handler = handlerFor(server.port(), gone);
  ASSERT_TRUE(handler.isOk());
  auto empty = (*handler)->handle(kafkaEvent("x"), {});
  ASSERT_TRUE(empty.isOk());
  EXPECT_TRUE(empty->empty());
  auto failed = (*handler)->handle(kafkaEvent("x"), {});
  ASSERT_FALSE(failed.isOk());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "http handler answered HTTP 500: boom");
  EXPECT_TRUE(gone.reasons.empty()) << "a server that answers is not gone";
}

// The server holds its answer until the handler has given up on it.
TEST(HttpHandlerTest, ASlowServerIsATimeoutNotACrash) {
  std::mutex mu;
  std::vector<http::Responder> held;
  FakeServer server([&](http::ServerRequest, http::Responder respond) {
    std::lock_guard lock(mu);
    held.push_back(std::move(respond));
  });
  Gone gone;
  auto handler = handlerFor(server.port(), gone, 200ms);
  ASSERT_TRUE(handler.isOk());
  auto outputs = (*handler)->handle(kafkaEvent("x"), {});
  ASSERT_FALSE(outputs.isOk());
  EXPECT_EQ(outputs.status().code(), StatusCode::kDeadlineExceeded) << outputs.status().toString();
  EXPECT_EQ(outputs.status().message(),
            "http handler http://127.0.0.1:" + std::to_string(server.port()) + "/events did not answer within 200 ms");
  EXPECT_TRUE(gone.reasons.empty());
  std::lock_guard lock(mu);
  EXPECT_EQ(held.size(), 1u);
  for (auto& respond : held) respond(http::textResponse(200, "late"));
}

// The delivery loop calls the handler from up to `concurrency` threads: the
// server answers only once all eight calls are in it at the same time.
TEST(HttpHandlerTest, CallsRunAtOnce) {
  constexpr int kConcurrency = 8;
  std::mutex mu;
  std::vector<http::Responder> waiting;
  FakeServer server([&](http::ServerRequest, http::Responder respond) {
    std::lock_guard lock(mu);
    waiting.push_back(respond);
    if (static_cast<int>(waiting.size()) < kConcurrency) return;
    for (auto& r : waiting) r(http::textResponse(200, "ok"));
  });
  Gone gone;
  auto handler = handlerFor(server.port(), gone, 10s);
  ASSERT_TRUE(handler.isOk());
  std::atomic<int> succeeded{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kConcurrency; ++i) {
    callers.emplace_back([&] {
      if ((*handler)->handle(kafkaEvent("x"), {}).isOk()) ++succeeded;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(succeeded.load(), kConcurrency);
}

TEST(HttpHandlerTest, AServerThatGoesAwayIsAHandlerCrash) {
  auto server = std::make_unique<FakeServer>(
      [](http::ServerRequest, http::Responder respond) { respond(http::textResponse(200, "")); });
  Gone gone;
  auto handler = handlerFor(server->port(), gone);
  ASSERT_TRUE(handler.isOk());
  const int port = server->port();
  server->stop();
  server.reset();
  auto outputs = (*handler)->handle(kafkaEvent("x"), {});
  ASSERT_FALSE(outputs.isOk());
  EXPECT_EQ(outputs.status().code(), StatusCode::kUnavailable);
  ASSERT_EQ(gone.reasons.size(), 1u);
  EXPECT_EQ(
      gone.reasons[0].rfind("the http handler at http://127.0.0.1:" + std::to_string(port) + "/events is gone (", 0),
      0u)
      << gone.reasons[0];
}

TEST(HttpHandlerTest, CreationWaitsForTheServerAndNamesThePortWhenNothingListens) {
  int port = 0;
  {
    FakeServer probe([](http::ServerRequest, http::Responder respond) { respond(http::textResponse(200, "")); });
    port = probe.port();
    probe.stop();
  }
  Gone gone;
  auto handler = handlerFor(port, gone);
  ASSERT_FALSE(handler.isOk());
  EXPECT_EQ(handler.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(handler.status().message(),
            "runtime http: nothing accepts connections on 127.0.0.1:" + std::to_string(port) +
                " after 300 ms: the handler image must serve HTTP on spec.http.port "
                "(docs/handler-images.md)");
}

}  // namespace
}  // namespace sluice::runtime
