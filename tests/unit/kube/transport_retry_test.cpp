// The cpprestsdk Transport's retries and client-side rate limit, against a tiny
// scripted HTTP listener on 127.0.0.1 (it does not pretend to be an apiserver:
// it answers each request with the next scripted status). Waits go through the
// Clock; a recording clock returns at once and keeps every delay asked for, so
// the test asserts the delays themselves, never wall-clock time.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// cpprestsdk defines a macro U() that breaks fmt (spdlog); we never use it.
#define _TURN_OFF_PLATFORM_STRING  // NOLINT(bugprone-reserved-identifier): the name cpprestsdk checks
#include <cpprest/http_listener.h>

#include <gtest/gtest.h>

#include "common/free_port.h"
#include "kube/cpprest_transport.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
namespace http = web::http;

// A Clock whose sleeps return at once, moving its time to the deadline and recording the delay.
class RecordingClock final : public Clock {
 public:
  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point{} + (now() - TimePoint{});
  }
  bool sleepUntil(TimePoint deadline, std::stop_token) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(deadline - now_);
    if (deadline > now_) now_ = deadline;
    return true;
  }
  std::vector<Duration> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  std::vector<Duration> sleeps_;
};

struct Scripted {
  int status;
  std::string retryAfter;  // "" = no header
};

// Answers requests with the scripted statuses in order, then 200; counts requests.
class ScriptedServer {
 public:
  ScriptedServer() {
    url_ = "http://127.0.0.1:" + std::to_string(freeLoopbackPort());
    listener_ = std::make_unique<http::experimental::listener::http_listener>(url_);
    listener_->support([this](const http::http_request& request) {
      Scripted next{200, ""};
      {
        std::lock_guard lock(mu_);
        ++requests_;
        methods_.push_back(request.method());
        if (!script_.empty()) {
          next = script_.front();
          script_.pop_front();
        }
      }
      http::http_response response(static_cast<http::status_code>(next.status));
      if (!next.retryAfter.empty()) response.headers().add("Retry-After", next.retryAfter);
      response.set_body(
          next.status == 200 ? R"({"ok":true})" : R"({"kind":"Status","code":)" + std::to_string(next.status) + "}",
          "application/json");
      request.reply(response).wait();
    });
    listener_->open().wait();
  }
  ~ScriptedServer() { listener_->close().wait(); }

  void script(std::vector<Scripted> responses) {
    std::lock_guard lock(mu_);
    script_.assign(responses.begin(), responses.end());
  }
  int requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> methods() const {
    std::lock_guard lock(mu_);
    return methods_;
  }
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  mutable std::mutex mu_;
  std::deque<Scripted> script_;
  int requests_ = 0;
  std::vector<std::string> methods_;
};

class TransportRetryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Transport> transport(TransportOptions options) {
    ClientConfig config;
    config.server = server_.url();
    config.origin = "test";
    auto made = makeCpprestTransport(config, clock_, options);
    EXPECT_TRUE(made) << made.status().toString();
    return made ? std::move(*made) : nullptr;
  }
  static HttpRequest request(const std::string& method) {
    HttpRequest r;
    r.method = method;
    r.pathAndQuery = "/api/v1/namespaces/ns/configmaps";
    if (method != "GET") {
      r.body = "{}";
      r.contentType = "application/json";
    }
    return r;
  }

  ScriptedServer server_;
  RecordingClock clock_;
};

TEST_F(TransportRetryTest, ThrottledRequestsWaitWhatRetryAfterSaysThenSucceed) {
  auto t = transport({});
  ASSERT_TRUE(t);
  server_.script({{429, "1"}, {429, "1"}});
  auto response = t->send(request("POST"));  // 429 is retried even for a non-idempotent request
  ASSERT_TRUE(response) << response.status().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(server_.requests(), 3);
  EXPECT_EQ(clock_.sleeps(), (std::vector<Clock::Duration>{1s, 1s}));
}

TEST_F(TransportRetryTest, RetryAfterIsCappedAtTheMaximumDelay) {
  TransportOptions options;
  options.maxRetryDelay = 30s;
  auto t = transport(options);
  ASSERT_TRUE(t);
  server_.script({{503, "120"}});
  auto response = t->send(request("PUT"));  // 503 with Retry-After: retried whatever the method
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(server_.requests(), 2);
  EXPECT_EQ(clock_.sleeps(), (std::vector<Clock::Duration>{30s}));
}

TEST_F(TransportRetryTest, ServerErrorsBackOffExponentiallyForReadsAndGiveUpAfterMaxRetries) {
  TransportOptions options;
  options.maxRetries = 3;
  options.retryBaseDelay = 200ms;
  auto t = transport(options);
  ASSERT_TRUE(t);
  server_.script({{500, ""}, {503, ""}, {500, ""}, {502, ""}, {500, ""}});
  auto response = t->send(request("GET"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 502) << "the last answer is returned once retries are spent";
  EXPECT_EQ(server_.requests(), 4);
  EXPECT_EQ(clock_.sleeps(), (std::vector<Clock::Duration>{200ms, 400ms, 800ms}));
}

TEST_F(TransportRetryTest, AWriteIsNotRepeatedOnAServerErrorWithoutRetryAfter) {
  auto t = transport({});
  ASSERT_TRUE(t);
  server_.script({{503, ""}});
  auto response = t->send(request("POST"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_TRUE(clock_.sleeps().empty());
  // Nor on a client error, for any method.
  server_.script({{409, ""}});
  auto conflict = t->send(request("GET"));
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(server_.requests(), 2);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(TransportRetryTest, TheClientSideQpsLimitSpacesRequestsBeyondTheBurst) {
  TransportOptions options;
  options.qps = 10;
  options.burst = 2;
  auto t = transport(options);
  ASSERT_TRUE(t);
  for (int i = 0; i < 5; ++i) {
    auto response = t->send(request("GET"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server_.requests(), 5);
  // The burst of 2 goes at once; each of the other 3 waits 1/qps (time moves only by those waits).
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  for (auto s : sleeps) EXPECT_NEAR(std::chrono::duration<double>(s).count(), 0.1, 1e-6);
}

TEST_F(TransportRetryTest, RetriesAlsoPassThroughTheRateLimit) {
  TransportOptions options;
  options.qps = 1;
  options.burst = 1;
  auto t = transport(options);
  ASSERT_TRUE(t);
  server_.script({{429, "0"}});
  auto response = t->send(request("GET"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(server_.requests(), 2);
  // Retry-After: 0 asks for no wait, but the retry is a second request: it waits for its token.
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[0], 0s);
  EXPECT_NEAR(std::chrono::duration<double>(sleeps[1]).count(), 1.0, 1e-6);
}

TEST_F(TransportRetryTest, EveryWaitIsReportedWithItsCause) {
  TransportOptions options;
  options.qps = 1;
  options.burst = 1;
  std::vector<std::pair<std::string, Clock::Duration>> waits;
  options.onWait = [&waits](std::string_view cause, Clock::Duration wait) { waits.emplace_back(cause, wait); };
  auto t = transport(options);
  ASSERT_TRUE(t);
  server_.script({{429, "3"}, {503, ""}});
  auto response = t->send(request("GET"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  // 429 (Retry-After 3 s, in which the 1/s bucket refills, so the retry goes at once), 503 (the
  // second backoff step), then the third request's wait for the bucket's next token.
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_EQ(waits[0].first, "throttled");
  EXPECT_EQ(waits[0].second, 3s);
  EXPECT_EQ(waits[1].first, "server_error");
  EXPECT_EQ(waits[2].first, "rate_limit");
  EXPECT_GT(waits[2].second, 0s);
}

// A stopping operator's request does not sit out a Retry-After: the wait ends
// at the stop and the request fails as cancelled, not retried.
TEST(TransportStopTest, AStopEndsARetryWaitAndTheRequestFailsCancelled) {
  ScriptedServer server;
  server.script({{429, "30"}});
  ClientConfig config;
  config.server = server.url();
  config.origin = "test";
  std::stop_source stop;
  TransportOptions options;
  options.stop = stop.get_token();
  auto t = makeCpprestTransport(config, realClock(), options);
  ASSERT_TRUE(t) << t.status().toString();
  std::jthread stopper([&] {
    while (server.requests() == 0) std::this_thread::sleep_for(1ms);
    stop.request_stop();
  });
  HttpRequest get;
  get.method = "GET";
  get.pathAndQuery = "/api/v1/namespaces/ns/configmaps";
  auto started = std::chrono::steady_clock::now();
  auto response = (*t)->send(get);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.status().code(), StatusCode::kCancelled) << response.status().toString();
  EXPECT_EQ(server.requests(), 1) << "retried after the stop";
  // Bounded far below the 30 s Retry-After the server asked for.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace
}  // namespace sluice::kube
