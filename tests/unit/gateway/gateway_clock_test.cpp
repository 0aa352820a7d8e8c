// The Gateway over real loopback sockets, with a fake Upstream and the
// Dispatcher's FakeClock: a request's duration (sluice_gateway_request_
// duration_seconds) is measured on that clock, queueing and the replica's
// answer included.
#include "gateway/gateway.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/logging.h"
#include "fakes/fake_clock.h"

// After logging.h: cpprest defines a U() macro that breaks fmt's headers.
#include <cpprest/http_client.h>

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;

// Answers every call at once, after moving the clock as a replica taking `takes` would.
class SlowReplica final : public Upstream {
 public:
  SlowReplica(testing::FakeClock& clock, Clock::Duration takes) : clock_(clock), takes_(takes) {}
  void forward(const std::string&, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)> done) override {
    clock_.advance(takes_);
    UpstreamResult result;
    result.response.status = 200;
    result.response.body = "done";
    done(std::move(result));
  }

 private:
  testing::FakeClock& clock_;
  const Clock::Duration takes_;
};

std::pair<int, std::string> get(int port, const std::string& path) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto response = client.request(web::http::methods::GET, path).get();
  return {response.status_code(), response.extract_utf8string(true).get()};
}

TEST(GatewayClockTest, ARequestsDurationIsMeasuredOnTheDispatchersClock) {
  testing::FakeClock clock;
  SlowReplica replica(clock, 1500ms);
  Dispatcher dispatcher(DispatcherOptions{}, replica, clock);
  dispatcher.setFunction("ns/fn", FunctionRoute{{Replica{"fn-1", "10.0.0.1:8090"}}, 1});
  GatewayOptions options;
  options.listenAddress = "127.0.0.1:0";
  options.adminAddress = "127.0.0.1:0";
  options.invokeToken = "token";
  auto registry = std::make_shared<prometheus::Registry>();
  Gateway gateway(
      options, dispatcher, [](const std::string&) { return std::optional<std::string>("web"); },
      [] { return std::string(); }, registry);
  ASSERT_TRUE(gateway.start().isOk());

  EXPECT_EQ(get(gateway.port(), "/ns/fn/hello"), (std::pair<int, std::string>{200, "done"}));
  auto [status, metrics] = get(gateway.adminPort(), "/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_NE(metrics.find("sluice_gateway_request_duration_seconds_sum{function=\"fn\",namespace=\"ns\"} 1.5\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sluice_gateway_request_duration_seconds_count{function=\"fn\",namespace=\"ns\"} 1\n"),
            std::string::npos)
      << metrics;
  gateway.stop(1s);
}

}  // namespace
}  // namespace sluice::gateway
