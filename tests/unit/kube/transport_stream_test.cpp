// The cpprestsdk Transport's streaming (the watch path) against a tiny local
// HTTP listener on 127.0.0.1 whose response body the test writes line by line
// and keeps open as long as it likes (it does not pretend to be an apiserver).
// Shows: lines arrive as written, the end of the body ends the stream, a stop
// request cancels a stream that is waiting for data, the idle timeout ends a
// silent stream, and a non-2xx answer comes back whole without any line.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

// cpprestsdk defines a macro U() that breaks fmt (spdlog); we never use it.
#define _TURN_OFF_PLATFORM_STRING  // NOLINT(bugprone-reserved-identifier): the name cpprestsdk checks
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/free_port.h"
#include "kube/cpprest_transport.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
namespace http = web::http;
using Buffer = concurrency::streams::producer_consumer_buffer<uint8_t>;

// Answers /stream with 200 and an open body the test feeds; /gone with 410.
class StreamingServer {
 public:
  StreamingServer() {
    url_ = "http://127.0.0.1:" + std::to_string(freeLoopbackPort());
    listener_ = std::make_unique<http::experimental::listener::http_listener>(url_);
    listener_->support([this](const http::http_request& request) {
      if (request.relative_uri().path() == "/gone") {
        request.reply(http::status_codes::Gone, R"({"kind":"Status","code":410,"reason":"Expired"})",
                      "application/json");
        return;
      }
      http::http_response response(http::status_codes::OK);
      response.set_body(concurrency::streams::istream(buffer_), "application/json");
      request.reply(response);
      opened_ = true;
    });
    listener_->open().wait();
  }
  ~StreamingServer() {
    end();
    listener_->close().wait();
  }

  void writeLine(const std::string& line) {
    std::string data = line + "\n";
    buffer_.putn_nocopy(reinterpret_cast<const uint8_t*>(data.data()), data.size()).wait();
    buffer_.sync().wait();
  }
  void end() {
    std::lock_guard lock(mu_);
    if (!ended_) buffer_.close(std::ios_base::out).wait();
    ended_ = true;
  }
  bool opened() const { return opened_.load(); }
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  Buffer buffer_;
  std::atomic<bool> opened_{false};
  std::mutex mu_;
  bool ended_ = false;
};

bool waitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 10000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

class TransportStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientConfig config;
    config.server = server_.url();
    config.origin = "test";
    auto made = makeCpprestTransport(config, realClock());
    ASSERT_TRUE(made) << made.status().toString();
    transport_ = std::move(*made);
  }

  struct Outcome {
    Result<HttpResponse> response = Status(StatusCode::kInternal, "not run");
    std::vector<std::string> lines;
  };

  // Runs stream() on its own thread; lines are appended to `lines` under `mu`.
  std::jthread start(const std::string& path, Outcome& outcome, std::stop_token stop, std::chrono::seconds idle = 30s) {
    return std::jthread([this, path, &outcome, stop, idle] {
      HttpRequest request;
      request.pathAndQuery = path;
      request.idleTimeout = idle;
      outcome.response = transport_->stream(
          request,
          [&](std::string_view line) {
            std::lock_guard lock(mu_);
            outcome.lines.emplace_back(line);
            return true;
          },
          stop);
    });
  }
  size_t linesSeen(Outcome& outcome) {
    std::lock_guard lock(mu_);
    return outcome.lines.size();
  }

  StreamingServer server_;
  std::unique_ptr<Transport> transport_;
  std::mutex mu_;
};

TEST_F(TransportStreamTest, LinesArriveAsWrittenAndTheEndOfTheBodyEndsTheStream) {
  Outcome outcome;
  std::stop_source stop;
  auto runner = start("/stream", outcome, stop.get_token());
  ASSERT_TRUE(waitFor([&] { return server_.opened(); }));
  server_.writeLine(R"({"type":"ADDED"})");
  ASSERT_TRUE(waitFor([&] { return linesSeen(outcome) == 1; })) << "a line is handed over before the body ends";
  server_.writeLine(R"({"type":"MODIFIED"})");
  server_.end();
  runner.join();
  ASSERT_TRUE(outcome.response) << outcome.response.status().toString();
  EXPECT_EQ(outcome.response->status, 200);
  EXPECT_EQ(outcome.lines, (std::vector<std::string>{R"({"type":"ADDED"})", R"({"type":"MODIFIED"})"}));
}

TEST_F(TransportStreamTest, AStopRequestCancelsAStreamWaitingForData) {
  Outcome outcome;
  std::stop_source stop;
  auto runner = start("/stream", outcome, stop.get_token());
  ASSERT_TRUE(waitFor([&] { return server_.opened(); }));
  server_.writeLine("first");
  ASSERT_TRUE(waitFor([&] { return linesSeen(outcome) == 1; }));
  stop.request_stop();  // the body stays open: only the cancellation can end the read
  runner.join();
  ASSERT_FALSE(outcome.response);
  EXPECT_EQ(outcome.response.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(outcome.lines, (std::vector<std::string>{"first"}));
}

TEST_F(TransportStreamTest, ASilentStreamEndsAtTheIdleTimeout) {
  Outcome outcome;
  std::stop_source stop;
  auto runner = start("/stream", outcome, stop.get_token(), 1s);
  ASSERT_TRUE(waitFor([&] { return server_.opened(); }));
  runner.join();  // nothing is ever written; the 1 s idle timer ends it
  ASSERT_FALSE(outcome.response);
  EXPECT_EQ(outcome.response.status().code(), StatusCode::kUnavailable) << outcome.response.status().toString();
  EXPECT_TRUE(outcome.lines.empty());
}

TEST_F(TransportStreamTest, ANon2xxAnswerIsReturnedWholeWithoutLines) {
  Outcome outcome;
  std::stop_source stop;
  auto runner = start("/gone", outcome, stop.get_token());
  runner.join();
  ASSERT_TRUE(outcome.response) << outcome.response.status().toString();
  EXPECT_EQ(outcome.response->status, 410);
  EXPECT_EQ(outcome.response->body, R"({"kind":"Status","code":410,"reason":"Expired"})");
  EXPECT_TRUE(outcome.lines.empty());
}

}  // namespace
}  // namespace sluice::kube
