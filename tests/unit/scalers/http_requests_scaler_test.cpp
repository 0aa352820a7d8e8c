// HttpRequestsScaler over a fake HttpGetter: the Function's pending and
// in-flight requests summed over the gateway replicas, activation, errors;
// and the Endpoints -> /loads URLs of the gateway Service.
#include "scalers/http_requests_scaler.h"

#include <gtest/gtest.h>

#include <memory>

#include "controllers/autoscaler/gateway_endpoints.h"
#include "fakes/fake_http_getter.h"

namespace sluice::scalers {
namespace {

const char* kLoadsA = R"({"functions":[{"namespace":"shop","name":"orders","pending":3,"inFlight":4},)"
                      R"({"namespace":"shop","name":"other","pending":50,"inFlight":50}]})";
const char* kLoadsB = R"({"functions":[{"namespace":"shop","name":"orders","pending":0,"inFlight":2}]})";

HttpRequestsScaler scalerFor(std::shared_ptr<testing::FakeHttpGetter> http, std::vector<std::string> urls) {
  HttpRequestsOptions options;
  options.ns = "shop";
  options.function = "orders";
  options.targetConcurrency = 4;
  options.gatewayLoadsUrls = [urls] { return urls; };
  return HttpRequestsScaler(options, std::move(http));
}

TEST(HttpRequestsScalerTest, SumsTheFunctionsRequestsOverEveryGateway) {
  auto http = std::make_shared<testing::FakeHttpGetter>();
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
  auto http = std::make_shared<testing::FakeHttpGetter>();
  http->answer("http://a/loads", 200, R"({"functions":[]})");
  auto reading = scalerFor(http, {"http://a/loads"}).read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 0);
  EXPECT_FALSE(reading->active);
}

TEST(HttpRequestsScalerTest, AGatewayDownIsLeftOutButNoneAnsweringIsAnError) {
  auto http = std::make_shared<testing::FakeHttpGetter>();
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
