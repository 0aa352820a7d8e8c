// `sluice describe --prometheus URL`: the replicas over the last hour from
// Prometheus's query_range (scripted here), a minute apart, gaps kept as
// null, shown as a line of bars; Prometheus failing leaves the rest of the
// description and says why in the field.
#include "cli/history.h"

#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli_harness.h"
#include "spec/resources.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::Harness;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.kube->put(spec::kFunctions,
                {{"metadata", {{"name", "hello"}, {"namespace", "team-a"}}}, {"spec", {{"runtime", "python3.11"}}}});
    end = std::chrono::duration_cast<std::chrono::seconds>(h.clock.wallNow().time_since_epoch()).count();
  }

  // A query_range answer: `values[i]` at end - 3600 + 60 i, an empty string leaving a gap.
  http::Response matrix(const std::vector<std::string>& values) const {
    json samples = json::array();
    for (size_t i = 0; i < values.size(); ++i) {
      if (!values[i].empty()) samples.push_back({end - 3600 + 60 * static_cast<int64_t>(i), values[i]});
    }
    json body = {{"status", "success"},
                 {"data", {{"resultType", "matrix"}, {"result", {{{"metric", json::object()}, {"values", samples}}}}}}};
    return http::Response{200, {}, body.dump()};
  }

  Harness h;
  int64_t end = 0;
};

TEST_F(HistoryTest, DescribeShowsTheLastHourMinuteByMinute) {
  std::vector<std::string> ready(61, "0");
  ready[30] = ready[31] = "3";
  ready[32] = "";  // no sample: a gap, not a zero
  ready[60] = "1";
  h.http.answer(matrix(ready));
  h.http.answer(matrix(std::vector<std::string>(61, "2")));
  ASSERT_EQ(h.run({"describe", "hello", "--prometheus", "http://prom:9090/", "-o", "json"}), kExitOk) << h.err.str();
  const json history = json::parse(h.out.str())["replicasLastHour"];
  EXPECT_EQ(history["url"], "http://prom:9090");
  EXPECT_EQ(history["ready"].size(), 61u);
  EXPECT_EQ(history["ready"][31], 3);
  EXPECT_TRUE(history["ready"][32].is_null());
  EXPECT_EQ(history["desired"][0], 2);
  EXPECT_EQ(history["readyMin"], 0);
  EXPECT_EQ(history["readyMax"], 3);
  EXPECT_EQ(history["readyNow"], 1);
  const auto requests = h.http.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url,
            "http://prom:9090/api/v1/query_range?query=max%28sluice_function_ready_replicas%7B"
            "function%3D%22team-a%2Fhello%22%7D%29&start=" +
                std::to_string(end - 3600) + "&end=" + std::to_string(end) + "&step=60");

  h.http.answer(matrix(ready));
  h.http.answer(matrix(ready));
  ASSERT_EQ(h.run({"describe", "hello", "--prometheus", "http://prom:9090"}), kExitOk) << h.err.str();
  std::string bars;
  for (int i = 0; i < 61; ++i) bars += i == 30 || i == 31 ? "█" : i == 32 ? " " : i == 60 ? "▃" : "▁";
  EXPECT_NE(h.out.str().find("Last hour:  ready 0..3 (now 1), per minute " + bars + "\n"), std::string::npos)
      << h.out.str();
}

TEST_F(HistoryTest, WithoutPrometheusOrWithItDownTheRestIsShownAndTheLineSaysWhy) {
  ASSERT_EQ(h.run({"describe", "hello"}), kExitOk) << h.err.str();
  EXPECT_NE(h.out.str().find("Last hour:  - (--prometheus URL: the operator's /metrics holds only the current "
                             "counts)\n"),
            std::string::npos)
      << h.out.str();
  h.http.answer(http::Response{503, {}, R"({"status":"error","error":"overloaded"})"});
  ASSERT_EQ(h.run({"describe", "hello", "--prometheus", "http://prom:9090", "-o", "json"}), kExitOk) << h.err.str();
  EXPECT_EQ(json::parse(h.out.str())["replicasLastHour"],
            json({{"error", "--prometheus http://prom:9090: HTTP 503: overloaded"}}));
  h.http.answer(http::Response{200, {}, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"});
  h.http.answer(http::Response{200, {}, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"});
  ASSERT_EQ(h.run({"describe", "hello", "--prometheus", "http://prom:9090"}), kExitOk) << h.err.str();
  EXPECT_NE(h.out.str().find("Last hour:  - (Prometheus has no sample of this Function in the last hour)\n"),
            std::string::npos)
      << h.out.str();
}

}  // namespace
}  // namespace sluice::cli
