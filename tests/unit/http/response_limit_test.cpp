// Request::maxResponseBytes on both real clients against a loopback server
// (port 0): a body over the limit, announced by Content-Length or only as it
// streams (no length, closed at the end), is kResourceExhausted and is not
// read to its end; a body within the limit arrives whole. withResponseLimit
// lowers every request's limit.
#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <thread>

#include "http/http_client.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers each connection with `bodyBytes` of 'x', with or without a Content-Length; counts what it wrote.
class BodyServer {
 public:
  BodyServer(size_t bodyBytes, bool contentLength)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        bodyBytes_(bodyBytes),
        contentLength_(contentLength) {
    thread_ = std::thread([this] { serve(); });
  }
  ~BodyServer() {
    stopping_ = true;
    boost::system::error_code ignored;
    tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/m"; }
  size_t written() const { return written_.load(); }

 private:
  void serve() {
    while (!stopping_) {
      tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error || stopping_) return;
      char request[4096];
      socket.read_some(asio::buffer(request), error);
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
      head += contentLength_ ? "Content-Length: " + std::to_string(bodyBytes_) + "\r\n" : "Connection: close\r\n";
      head += "\r\n";
      asio::write(socket, asio::buffer(head), error);
      const std::string chunk(16 * 1024, 'x');
      for (size_t sent = 0; sent < bodyBytes_ && !error; sent += chunk.size()) {
        written_ += asio::write(socket, asio::buffer(chunk.data(), std::min(chunk.size(), bodyBytes_ - sent)), error);
      }
      socket.close(error);
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  const size_t bodyBytes_;
  const bool contentLength_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> written_{0};
  std::thread thread_;
};

Result<Response> fetch(HttpClient& client, const std::string& url, uint64_t limit) {
  Request request;
  request.url = url;
  request.maxResponseBytes = limit;
  request.timeout = std::chrono::seconds(10);
  return client.send(request);
}

class ResponseLimitTest : public ::testing::TestWithParam<bool> {
 protected:
  std::shared_ptr<HttpClient> client() { return GetParam() ? makeCppRestHttpClient() : makeBeastHttpClient(); }
};

TEST_P(ResponseLimitTest, ALongerBodyIsRefusedWhetherAnnouncedOrStreamed) {
  for (bool contentLength : {true, false}) {
    BodyServer server(64 << 20, contentLength);
    auto response = fetch(*client(), server.url(), 1 << 20);
    ASSERT_FALSE(response.isOk()) << "content-length " << contentLength;
    EXPECT_EQ(response.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(response.status().message(),
              "GET " + server.url() + ": response body exceeds the limit of 1048576 bytes");
  }
}

TEST_P(ResponseLimitTest, ABodyWithinTheLimitArrivesWhole) {
  for (bool contentLength : {true, false}) {
    BodyServer server(300 * 1024, contentLength);
    auto response = fetch(*client(), server.url(), 300 * 1024);
    ASSERT_TRUE(response.isOk()) << response.status().toString();
    EXPECT_EQ(response->body.size(), 300u * 1024);
    EXPECT_EQ(response->body.find_first_not_of('x'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Clients, ResponseLimitTest, ::testing::Bool(),
                         [](const auto& param) { return param.param ? "CppRest" : "Beast"; });

TEST(WithResponseLimitTest, LowersEveryRequestsLimit) {
  BodyServer server(8 * 1024, true);
  auto limited = withResponseLimit(makeBeastHttpClient(), 4096);
  EXPECT_EQ(fetch(*limited, server.url(), 0).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fetch(*limited, server.url(), 1 << 20).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fetch(*limited, server.url(), 1024).status().message(),
            "GET " + server.url() + ": response body exceeds the limit of 1024 bytes")
      << "a lower limit of the caller's stands";
  EXPECT_TRUE(fetch(*withResponseLimit(makeBeastHttpClient(), 0), server.url(), 0).isOk()) << "0: no limit";
}

}  // namespace
}  // namespace sluice::http
