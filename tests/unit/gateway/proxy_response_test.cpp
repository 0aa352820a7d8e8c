// Route parsing, the /invoke request built for a client request, and the
// mapping of Lambda/SCF proxy responses to real HTTP.
#include "gateway/proxy_response.h"

#include <gtest/gtest.h>

#include "gateway/route.h"

namespace sluice::gateway {
namespace {

std::string headerOf(const http::HeaderList& headers, const std::string& name) {
  std::string values;
  for (const auto& [key, value] : headers) {
    if (key == name) values += (values.empty() ? "" : ",") + value;
  }
  return values;
}

TEST(RouteTest, SplitsNamespaceFunctionPathAndQuery) {
  auto route = parseRoute("/shop/orders/v1/items?id=7&x=y");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->ns, "shop");
  EXPECT_EQ(route->function, "orders");
  EXPECT_EQ(route->path, "/v1/items");
  EXPECT_EQ(route->query, "id=7&x=y");
  EXPECT_EQ(route->key(), "shop/orders");
  auto bare = parseRoute("/shop/orders");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(bare->query, "");
  EXPECT_EQ(parseRoute("/shop/orders?q=1")->query, "q=1");
}

TEST(RouteTest, RefusesTargetsThatNameNoFunction) {
  EXPECT_FALSE(parseRoute("/"));
  EXPECT_FALSE(parseRoute("/shop"));
  EXPECT_FALSE(parseRoute("/shop/"));
  EXPECT_FALSE(parseRoute("//orders"));
  EXPECT_FALSE(parseRoute("/Shop/orders"));
  EXPECT_FALSE(parseRoute("/shop/../x"));
  EXPECT_FALSE(parseRoute("http://x/shop/orders"));
}

TEST(InvokeRequestTest, CarriesMethodPathQueryAndDropsSpoofedAndHopHeaders) {
  http::ServerRequest request;
  request.method = "PUT";
  request.target = "/ns/f/a/b?x=1";
  request.headers = {{"content-type", "application/json"},
                     {"connection", "keep-alive"},
                     {"x-sluice-event-type", "cron.tick"},
                     {"sluice.http.path", "/forged"},
                     {"x-request-id", "42"}};
  request.body = "{}";
  request.remoteAddress = "10.1.2.3:45678";
  UpstreamRequest invoke = invokeRequestFor(request, *parseRoute(request.target), "f-http");
  EXPECT_EQ(headerOf(invoke.headers, "content-type"), "application/json");
  EXPECT_EQ(headerOf(invoke.headers, "x-request-id"), "42");
  EXPECT_EQ(headerOf(invoke.headers, "connection"), "");
  EXPECT_EQ(headerOf(invoke.headers, "x-sluice-event-type"), "");
  EXPECT_EQ(headerOf(invoke.headers, "X-Sluice-Event-Type"), "http.request");
  EXPECT_EQ(headerOf(invoke.headers, "X-Sluice-Trigger"), "f-http");
  EXPECT_EQ(headerOf(invoke.headers, "sluice.http.method"), "PUT");
  EXPECT_EQ(headerOf(invoke.headers, "sluice.http.path"), "/a/b");
  EXPECT_EQ(headerOf(invoke.headers, "sluice.http.query"), "x=1");
  EXPECT_EQ(headerOf(invoke.headers, "sluice.http.source-ip"), "10.1.2.3");
  EXPECT_EQ(invoke.body, "{}");
}

TEST(ClientResponseTest, MapsALambdaProxyResponse) {
  UpstreamResponse upstream{200,
                            {{"content-type", "application/octet-stream"}},
                            R"({"statusCode":201,"headers":{"Content-Type":"text/csv","X-Id":"7"},)"
                            R"("multiValueHeaders":{"X-Many":["1","2"]},"cookies":["a=b"],"body":"x,y"})"};
  http::ServerResponse response = clientResponseFrom(upstream);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(headerOf(response.headers, "Content-Type"), "text/csv");
  EXPECT_EQ(headerOf(response.headers, "X-Id"), "7");
  EXPECT_EQ(headerOf(response.headers, "X-Many"), "1,2");
  EXPECT_EQ(headerOf(response.headers, "Set-Cookie"), "a=b");
  EXPECT_EQ(response.body, "x,y");
}

TEST(ClientResponseTest, RefusesAHandlerHeaderThatWouldSplitTheAnswer) {
  UpstreamResponse split{200, {}, R"({"statusCode":302,"headers":{"Location":"/x\r\nSet-Cookie: s=1"}})"};
  http::ServerResponse response = clientResponseFrom(split);
  EXPECT_EQ(response.status, 502);
  EXPECT_EQ(response.body,
            "the handler's proxy response has header \"Location\" with a line break or NUL in its value\n");
  UpstreamResponse badName{200, {}, R"({"statusCode":200,"multiValueHeaders":{"X Y":["1"]}})"};
  EXPECT_EQ(clientResponseFrom(badName).body, "the handler's proxy response has an invalid header name \"X Y\"\n");
  UpstreamResponse hop{200, {}, R"({"statusCode":200,"headers":{"Content-Length":"99","X-A":"1"},"body":"ab"})"};
  http::ServerResponse kept = clientResponseFrom(hop);
  EXPECT_EQ(kept.status, 200);
  EXPECT_EQ(headerOf(kept.headers, "Content-Length"), "");
  EXPECT_EQ(headerOf(kept.headers, "X-A"), "1");
}

TEST(ClientResponseTest, DecodesABase64Body) {
  UpstreamResponse upstream{200, {}, R"({"statusCode":200,"isBase64Encoded":true,"body":"AAEC/w=="})"};
  http::ServerResponse response = clientResponseFrom(upstream);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, std::string("\x00\x01\x02\xff", 4));
  UpstreamResponse broken{200, {}, R"({"statusCode":200,"isBase64Encoded":true,"body":"!!"})"};
  EXPECT_EQ(clientResponseFrom(broken).status, 502);
}

TEST(ClientResponseTest, PassesOtherOutputsAndErrorsThrough) {
  UpstreamResponse plain{200, {{"content-type", "application/octet-stream"}}, R"({"hello":"world"})"};
  http::ServerResponse response = clientResponseFrom(plain);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"hello":"world"})");
  EXPECT_EQ(headerOf(response.headers, "Content-Type"), "application/octet-stream");
  UpstreamResponse error{500, {{"content-type", "text/plain"}}, "Internal: handler raised\n"};
  EXPECT_EQ(clientResponseFrom(error).status, 500);
  EXPECT_EQ(clientResponseFrom(error).body, "Internal: handler raised\n");
  // A statusCode that is not an HTTP status is just output.
  EXPECT_EQ(clientResponseFrom(UpstreamResponse{200, {}, R"({"statusCode":7})"}).status, 200);
}

}  // namespace
}  // namespace sluice::gateway
