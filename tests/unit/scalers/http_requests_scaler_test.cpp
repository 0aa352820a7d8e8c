// HttpRequestsScaler over a fake HttpClient: the Function's pending and
// in-flight requests summed over the gateway replicas, activation, errors;
// and the Endpoints -> /loads URLs of the gateway Service.
#include "scalers/http_requests_scaler.h"

#include <gtest/gtest.h>

#include <memory>

#include "controllers/autoscaler/gateway_endpoints.h"
#include "fakes/fake_url_http_client.h"

namespace sluice::scalers {
namespace {

const char* kLoadsA = R"({"functions":[{"namespace":"shop","name":"orders","pending":3,"inFlight":4},)"
                      R"({"namespace":"shop","name":"other","pending":50,"inFlight":50}]})";
const char* kLoadsB = R"({"functions":[{"namespace":"shop","name":"orders","pending":0,"inFlight":2}]})";

HttpRequestsScaler scalerFor(std::shared_ptr<testing::FakeUrlHttpClient> http, std::vector<std::string> urls) {
  HttpRequestsOptions options;
  options.ns = "shop";
  options.function = "orders";
  options.target = 4;
  options.gatewayLoadsUrls = [urls] { return urls; };
  return HttpRequestsScaler(options, std::move(http));
}

TEST(HttpRequestsScalerTest, SumsTheFunctionsRequestsOverEveryGateway) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer("http://a/loads", 200, kLoadsA);
  http->answer("http://b/loads", 200, kLoadsB);
  auto scaler = scalerFor(http, {"http://a/loads", "http://b/loads"});
  auto reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 9);
  EXPECT_TRUE(reading->active);
  EXPECT_EQ(scaler.target().target, 4);
  EXPECT_EQ(scaler.name(), "http/shop/orders");
}

TEST(HttpRequestsScalerTest, NoRequestsIsInactiveAndAMissingFunctionCountsZero) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer("http://a/loads", 200, R"({"functions":[]})");
  auto reading = scalerFor(http, {"http://a/loads"}).read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 0);
  EXPECT_FALSE(reading->active);
}

TEST(HttpRequestsScalerTest, AGatewayDownIsLeftOutButNoneAnsweringIsAnError) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer("http://a/loads", 200, kLoadsA);
  http->fail("http://b/loads", "connection refused");
  auto partial = scalerFor(http, {"http://a/loads", "http://b/loads"}).read();
  ASSERT_TRUE(partial.isOk());
  EXPECT_EQ(partial->value, 7);
  auto none = scalerFor(http, {"http://b/loads"}).read();
  ASSERT_FALSE(none.isOk());
  EXPECT_NE(none.status().message().find("connection refused"), std::string::npos) << none.status().message();
  auto unknown = scalerFor(http, {}).read();
  EXPECT_FALSE(unknown.isOk());
}

// A queue-depth stand-in for the async-invocation backlog.
class FixedBacklog final : public Scaler {
 public:
  explicit FixedBacklog(Result<ScalerReading> reading) : reading_(std::move(reading)) {}
  std::string name() const override { return "rabbitmq/async"; }
  ScalerTarget target() const override { return {}; }
  Result<ScalerReading> read() override { return reading_; }

 private:
  Result<ScalerReading> reading_;
};

TEST(HttpRequestsScalerTest, ARateTargetReadsTheSummedRequestsPerSecondWindowed) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(
      "http://a/loads", 200,
      R"({"functions":[{"namespace":"shop","name":"orders","pending":0,"inFlight":1,"requestsPerSecond":42.5}]})");
  http->answer(
      "http://b/loads", 200,
      R"({"functions":[{"namespace":"shop","name":"orders","pending":0,"inFlight":0,"requestsPerSecond":7.5}]})");
  HttpRequestsOptions options;
  options.ns = "shop";
  options.function = "orders";
  options.target = 10;
  options.requestsPerSecond = true;
  options.gatewayLoadsUrls = [] { return std::vector<std::string>{"http://a/loads", "http://b/loads"}; };
  HttpRequestsScaler scaler(options, http);
  auto reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 50);
  EXPECT_TRUE(reading->active);
  EXPECT_TRUE(scaler.target().windowed);
  EXPECT_EQ(observe(scaler).windowed, true);
}

TEST(HttpRequestsScalerTest, QueuedAsyncInvocationsAreWaitingRequestsAndAMissingQueueIsNone) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer("http://a/loads", 200, R"({"functions":[]})");
  HttpRequestsOptions options;
  options.ns = "shop";
  options.function = "orders";
  options.target = 4;
  options.gatewayLoadsUrls = [] { return std::vector<std::string>{"http://a/loads"}; };
  ScalerReading waiting;
  waiting.value = 12;
  waiting.active = true;
  options.backlog = std::make_shared<FixedBacklog>(waiting);
  auto queued = HttpRequestsScaler(options, http).read();
  ASSERT_TRUE(queued.isOk());
  EXPECT_EQ(queued->value, 12);
  EXPECT_TRUE(queued->active) << "async invocations alone wake the Function";

  options.requestsPerSecond = true;
  auto rate = HttpRequestsScaler(options, http).read();
  ASSERT_TRUE(rate.isOk());
  EXPECT_EQ(rate->value, 0) << "a rate target counts arrivals, not the queue";
  EXPECT_TRUE(rate->active);

  options.requestsPerSecond = false;
  options.backlog = std::make_shared<FixedBacklog>(Status(StatusCode::kNotFound, "no queue"));
  auto missing = HttpRequestsScaler(options, http).read();
  ASSERT_TRUE(missing.isOk());
  EXPECT_FALSE(missing->active);
  options.backlog = std::make_shared<FixedBacklog>(unavailable("broker down"));
  auto down = HttpRequestsScaler(options, http).read();
  ASSERT_FALSE(down.isOk());
  EXPECT_NE(down.status().message().find("asynchronous invocations of shop/orders"), std::string::npos)
      << down.status().message();
}

TEST(GatewayEndpointsTest, ListsTheAdminPortOfEveryReadyAddress) {
  auto endpoints = kube::Json::parse(R"({"subsets":[
    {"addresses":[{"ip":"10.1.0.5"},{"ip":"10.1.0.6"}],"notReadyAddresses":[{"ip":"10.1.0.7"}],
     "ports":[{"name":"http","port":8080},{"name":"admin","port":9090}]},
    {"addresses":[{"ip":"fd00::1"}],"ports":[{"name":"admin","port":9091}]}]})");
  EXPECT_EQ(controllers::gatewayLoadsUrls(endpoints, "admin"),
            (std::vector<std::string>{"http://10.1.0.5:9090/loads", "http://10.1.0.6:9090/loads",
                                      "http://[fd00::1]:9091/loads"}));
  EXPECT_TRUE(controllers::gatewayLoadsUrls(kube::Json::object(), "admin").empty());
}

}  // namespace
}  // namespace sluice::scalers
