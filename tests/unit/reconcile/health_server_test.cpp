// The operator's probe endpoints over real HTTP on a loopback port.
#include "reconcile/health_server.h"
#include "common/free_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "common/logging.h"

// After logging.h: cpprest defines a U() macro that breaks fmt's headers.
#include <cpprest/http_client.h>

namespace sluice::reconcile {
namespace {

std::pair<int, std::string> get(int port, const std::string& path) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto response = client.request(web::http::methods::GET, path).get();
  return {response.status_code(), response.extract_utf8string(true).get()};
}

TEST(HealthServerTest, HealthzAlwaysAndReadyzByTheCallback) {
  std::atomic<bool> ready{false};
  std::unique_ptr<HealthServer> server;
  int port = 0;
  for (int attempt = 0; attempt < 5 && !server; ++attempt) {
    port = freeLoopbackPort();
    auto candidate = std::make_unique<HealthServer>(
        "127.0.0.1:" + std::to_string(port), [&ready]() -> std::string { return ready ? "" : "caches not synced"; });
    if (candidate->start().isOk()) server = std::move(candidate);
  }
  ASSERT_TRUE(server) << "could not start the health server";

  EXPECT_EQ(get(port, "/healthz"), (std::pair<int, std::string>{200, "ok\n"}));
  EXPECT_EQ(get(port, "/readyz"), (std::pair<int, std::string>{503, "caches not synced\n"}));
  ready = true;
  EXPECT_EQ(get(port, "/readyz"), (std::pair<int, std::string>{200, "ok\n"}));
  EXPECT_EQ(get(port, "/metrics").first, 404);
  server->stop();
  EXPECT_THROW(get(port, "/healthz"), std::exception);
}

TEST(HealthServerTest, APortInUseIsAnError) {
  int port = freeLoopbackPort();
  HealthServer first("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(first.start().isOk());
  HealthServer second("127.0.0.1:" + std::to_string(port));
  Status status = second.start();
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("health probe server on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace sluice::reconcile
