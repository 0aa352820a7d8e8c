// ControlServer's kept-alive connections once the replica drains, over raw
// loopback sockets so the connection's end is seen: /invoke answers of a
// draining replica carry "Connection: close" and the server closes the
// connection; stop() keeps refusing with "503 draining" while callers still
// send, never the closed listener's bare 404, and does not wait when /invoke
// is quiet.
#include "runtime/control/control_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "common/free_port.h"
#include "fakes/fake_clock.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

class DrainingHooks final : public ControlHooks {
 public:
  std::string notReadyReason() override { return ""; }
  std::string refusesInvocations() override {
    std::lock_guard lock(mu);
    return refuses;
  }
  std::string metricsText() override { return ""; }
  Status specialize(const std::string&) override { return Status::ok(); }
  void requestDrain() override {}
  // "drain-now": the drain is asked while this invocation runs.
  Result<std::vector<Record>> invoke(const InvokeRequest& request) override {
    std::lock_guard lock(mu);
    if (request.body == "drain-now") refuses = "draining";
    Record record;
    record.value = "done";
    return std::vector<Record>{record};
  }

  std::mutex mu;
  std::string refuses;  // guarded by mu
};

// One HTTP/1.1 exchange on a socket of its own that stays open for the next.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }

  // The response's head and body (Content-Length bodies only).
  std::string post(const std::string& path, const std::string& body) {
    const std::string request = "POST " + path +
                                " HTTP/1.1\r\nHost: replica\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nX-Sluice-Invoke-Token: invoke-token\r\n\r\n" + body;
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
    std::string response;
    char buffer[4096];
    while (true) {
      const size_t headEnd = response.find("\r\n\r\n");
      if (headEnd != std::string::npos) {
        const size_t at = lowerCopy(response).find("content-length: ");
        const size_t length = at == std::string::npos ? 0 : std::stoul(response.substr(at + 16));
        if (response.size() >= headEnd + 4 + length) return response;
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return response;
      response.append(buffer, static_cast<size_t>(n));
    }
  }
  // Whether the server closed the connection (end of stream within 5 s).
  bool closedByServer() {
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  static std::string lowerCopy(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }
  int fd_ = -1;
  bool connected_ = false;
};

class ControlServerConnectionsTest : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds quiet, std::chrono::milliseconds lingerMax, Clock* clock = &realClock()) {
    for (int tries = 0; tries < 5; ++tries) {
      // port_ is the data port: /invoke lives there.
      port_ = freeLoopbackPort();
      const int controlPort = freeLoopbackPort();
      if (controlPort == port_) continue;
      ControlServerOptions options;
      options.bindAddress = "127.0.0.1:" + std::to_string(controlPort);
      options.specializeToken = "token";
      options.dataBindAddress = "127.0.0.1:" + std::to_string(port_);
      options.invokeTokens = {"invoke-token"};
      options.closeQuietPeriod = quiet;
      options.closeLingerMax = lingerMax;
      options.clock = clock;
      server_ = std::make_unique<ControlServer>(options, hooks_);
      if (server_->start().isOk()) return;
    }
    FAIL() << "could not start the control server";
  }

  int port_ = 0;
  DrainingHooks hooks_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerConnectionsTest, AServingReplicaKeepsTheConnectionAndADrainingOneRefusesAndClosesIt) {
  start(250ms, 2000ms);
  RawConnection connection(port_);
  ASSERT_TRUE(connection.connected());
  std::string answer = connection.post("/invoke", "{}");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_EQ(answer.find("Connection: close"), std::string::npos) << answer;

  {
    std::lock_guard lock(hooks_.mu);
    hooks_.refuses = "draining";
  }
  answer = connection.post("/invoke", "{}");  // the same, kept-alive connection
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("X-Sluice-Not-Handled: draining\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(connection.closedByServer());
}

TEST_F(ControlServerConnectionsTest, AnInvocationThatEndsAfterTheDrainWasAskedClosesItsConnection) {
  start(250ms, 2000ms);
  RawConnection connection(port_);
  ASSERT_TRUE(connection.connected());
  const std::string answer = connection.post("/invoke", "drain-now");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\n\r\ndone"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(connection.closedByServer());
}

TEST_F(ControlServerConnectionsTest, StopRefusesWithDrainingWhileCallersStillSendThenCloses) {
  start(1000ms, 10000ms);
  {
    std::lock_guard lock(hooks_.mu);
    hooks_.refuses = "draining";
  }
  ASSERT_TRUE(RawConnection(port_).connected());
  EXPECT_NE(RawConnection(port_).post("/invoke", "{}").find("X-Sluice-Not-Handled: draining"), std::string::npos);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->stop();
    stopped = true;
  });
  // Each call comes well within the quiet period of the one before: stop() has not closed the listener.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(20ms);
    ASSERT_FALSE(stopped) << "stop() returned while /invoke was busy";
    RawConnection connection(port_);
    ASSERT_TRUE(connection.connected());
    const std::string answer = connection.post("/invoke", "{}");
    EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << "call " << i << ": " << answer;
    EXPECT_NE(answer.find("X-Sluice-Not-Handled: draining\r\n"), std::string::npos) << answer;
  }
  const auto lastCall = std::chrono::steady_clock::now();
  stopper.join();
  EXPECT_GE(std::chrono::steady_clock::now() - lastCall, 900ms) << "stop() did not wait for a quiet /invoke";
  EXPECT_FALSE(RawConnection(port_).connected()) << "the listener is closed";
}

TEST_F(ControlServerConnectionsTest, StopDoesNotWaitWhenNoInvocationCame) {
  start(5000ms, 10000ms);
  const auto began = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 4000ms);
}

// The quiet period is measured, and waited, on the server's clock: stop()
// returns exactly when the clock reaches the last /invoke plus the quiet period.
TEST_F(ControlServerConnectionsTest, StopWaitsForAQuietInvokeOnTheServersClock) {
  testing::FakeClock clock;
  start(1000ms, 10000ms, &clock);
  EXPECT_EQ(RawConnection(port_).post("/invoke", "{}").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->stop();
    stopped = true;
  });
  clock.waitForSleepers(1);  // stop() waits on the fake clock, not on real time
  clock.advance(999ms);
  // Still listening: the call is taken, and restarts the quiet period.
  const std::string answer = RawConnection(port_).post("/invoke", "{}");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  clock.advance(999ms);
  EXPECT_FALSE(stopped) << "stop() returned 1 ms before the quiet period after the last /invoke";
  clock.advance(1ms);
  stopper.join();
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(RawConnection(port_).connected()) << "the listener is closed";
}

}  // namespace
}  // namespace sluice::runtime
