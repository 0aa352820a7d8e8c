// The operator's /metrics over real HTTP on a loopback port (port 0): what a
// scrape sees as collectables come and go.
#include "metrics/metrics_server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <string>

#include "common/logging.h"

// After logging.h: cpprest defines a U() macro that breaks fmt's headers.
#include <cpprest/http_client.h>

namespace sluice::metrics {
namespace {

struct Answer {
  int status;
  std::string contentType;
  std::string body;
};

Answer get(int port, const std::string& path, const web::http::method& method = web::http::methods::GET) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto response = client.request(method, path).get();
  return {response.status_code(), response.headers().content_type(), response.extract_utf8string(true).get()};
}

std::shared_ptr<prometheus::Registry> registryWithCounter(const std::string& name, double value) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name(name).Help("test").Register(*registry).Add({}).Increment(value);
  return registry;
}

TEST(MetricsServerTest, AScrapeCollectsEveryCollectableAddedUntilRemoved) {
  MetricsServer server("127.0.0.1:0");
  auto first = registryWithCounter("first_total", 2);
  auto second = registryWithCounter("second_total", 5);
  server.add(first);
  ASSERT_TRUE(server.start().isOk());
  server.add(second);

  Answer scrape = get(server.port(), "/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(scrape.body.find("\nfirst_total 2"), std::string::npos) << scrape.body;
  EXPECT_NE(scrape.body.find("\nsecond_total 5"), std::string::npos) << scrape.body;
  EXPECT_LT(scrape.body.find("first_total"), scrape.body.find("second_total"));

  server.remove(second);
  scrape = get(server.port(), "/metrics");
  EXPECT_NE(scrape.body.find("first_total 2"), std::string::npos);
  EXPECT_EQ(scrape.body.find("second_total"), std::string::npos) << scrape.body;

  EXPECT_EQ(get(server.port(), "/healthz").status, 404);
  EXPECT_EQ(get(server.port(), "/metrics", web::http::methods::POST).status, 405);
  const int port = server.port();
  server.stop();
  EXPECT_THROW(get(port, "/metrics"), std::exception);
}

TEST(MetricsServerTest, AnAddressInUseIsAnErrorNamingIt) {
  MetricsServer first("127.0.0.1:0");
  ASSERT_TRUE(first.start().isOk());
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  MetricsServer second(address);
  Status status = second.start();
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("metrics server on " + address), std::string::npos) << status.message();
}

}  // namespace
}  // namespace sluice::metrics
