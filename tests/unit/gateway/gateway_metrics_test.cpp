// GatewayMetrics keeps the series a request adds to, per Function and
// status: what each request counts must land in the same series as if it
// were looked up every time, and a new status or Function gets its own.
#include "gateway/gateway_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "fakes/fake_clock.h"

namespace sluice::gateway {
namespace {

class NoUpstream final : public Upstream {
 public:
  void forward(const std::string&, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)>) override {}
};

// "namespace/function/code" -> sluice_gateway_requests_total; "namespace/function" -> the duration's count and sum.
struct Scrape {
  std::map<std::string, double> requests;
  std::map<std::string, std::pair<std::uint64_t, double>> durations;
};

Scrape scrape(prometheus::Registry& registry) {
  Scrape out;
  for (const auto& family : registry.Collect()) {
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& label : metric.label) labels[label.name] = label.value;
      const std::string function = labels["namespace"] + "/" + labels["function"];
      if (family.name == "sluice_gateway_requests_total")
        out.requests[function + "/" + labels["code"]] = metric.counter.value;
      if (family.name == "sluice_gateway_request_duration_seconds") {
        out.durations[function] = {metric.histogram.sample_count, metric.histogram.sample_sum};
      }
    }
  }
  return out;
}

TEST(GatewayMetricsTest, EachRequestCountsInItsFunctionsAndStatusSeries) {
  testing::FakeClock clock;
  NoUpstream upstream;
  Dispatcher dispatcher(DispatcherOptions{}, upstream, clock);
  auto registry = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics(registry, dispatcher);

  metrics.observe("ns", "fn", 200, 0.5);
  metrics.observe("ns", "fn", 200, 0.25);
  metrics.observe("ns", "fn", 503, 1);
  metrics.observe("ns", "other", 200, 2);
  metrics.observe("ns2", "fn", 404, 0);
  metrics.observe("ns", "fn", 200, 0.25);

  Scrape got = scrape(*registry);
  EXPECT_EQ(got.requests, (std::map<std::string, double>{
                              {"ns/fn/200", 3}, {"ns/fn/503", 1}, {"ns/other/200", 1}, {"ns2/fn/404", 1}}));
  EXPECT_EQ(got.durations["ns/fn"], (std::pair<std::uint64_t, double>{4, 2.0}));
  EXPECT_EQ(got.durations["ns/other"], (std::pair<std::uint64_t, double>{1, 2.0}));
  EXPECT_EQ(got.durations["ns2/fn"], (std::pair<std::uint64_t, double>{1, 0.0}));
  EXPECT_EQ(got.durations.size(), 3u);
}

}  // namespace
}  // namespace sluice::gateway
