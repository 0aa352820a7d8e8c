// `sluice invoke`: the request it sends (URL from --local/--gateway or the
// Function's status.url, method, payload from -d, a file or stdin, headers,
// async), what it prints (text; --output json is the golden), and its exit
// codes: 0 for a 2xx/3xx answer, 1 for >= 400, a network failure, a missing
// Function or one without a URL.
#include "cli/invoke.h"

#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli_harness.h"
#include "spec/resources.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::Harness;

http::Response answer(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers = {{"content-type", "application/json"}, {"x-sluice-replica", "process 42"}};
  r.body = std::move(body);
  return r;
}

TEST(InvokeTest, LocalRunPostsThePayloadAndPrintsTheAnswer) {
  Harness h;
  h.http.answer(answer(200, "{\"hello\":\"sluice\"}"));
  EXPECT_EQ(h.run({"invoke", "hello", "--local", "http://127.0.0.1:8088/", "-d", "{\"name\":\"sluice\"}", "-H",
                   "X-Trace: abc"}),
            kExitOk)
      << h.err.str();
  ASSERT_EQ(h.http.requests().size(), 1u);
  const http::Request sent = h.http.requests()[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "http://127.0.0.1:8088/default/hello");
  EXPECT_EQ(sent.body, "{\"name\":\"sluice\"}");
  EXPECT_EQ(sent.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Trace", "abc"}}));
  EXPECT_EQ(h.out.str(),
            "HTTP 200 in 12 ms\ncontent-type: application/json\nx-sluice-replica: process 42\n\n"
            "{\"hello\":\"sluice\"}\n");
  testing::expectGolden("invoke.txt", h.out.str());
  EXPECT_TRUE(h.connects.empty());  // --local needs no cluster
}

TEST(InvokeTest, PayloadFromStdinAndJsonOutputMatchTheGolden) {
  Harness h;
  h.in.str("{\"name\":\"stdin\"}");
  h.http.answer(answer(201, "{\"hello\":\"stdin\"}"));
  EXPECT_EQ(h.run({"invoke", "hello", "-n", "team-b", "--gateway", "http://gw:8080", "-f", "-", "--path", "/x?y=1",
                   "--async", "-o", "json"}),
            kExitOk);
  const http::Request sent = h.http.requests().at(0);
  EXPECT_EQ(sent.url, "http://gw:8080/team-b/hello/x?y=1");
  EXPECT_EQ(sent.body, "{\"name\":\"stdin\"}");
  EXPECT_EQ(sent.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Sluice-Invocation-Type", "Event"}}));
  testing::expectGolden("invoke.json", h.out.str());
}

TEST(InvokeTest, NoPayloadIsAGetAndAnErrorStatusIsExitOne) {
  Harness h;
  h.http.answer(answer(503, "queue full"));
  EXPECT_EQ(h.run({"invoke", "hello", "--local", "http://l"}), kExitError);
  EXPECT_EQ(h.http.requests().at(0).method, "GET");
  EXPECT_EQ(h.out.str(),
            "HTTP 503 in 12 ms\ncontent-type: application/json\nx-sluice-replica: process 42\n\nqueue full\n");
}

TEST(InvokeTest, ABinaryBodyIsBase64InJson) {
  Harness h;
  h.http.answer(answer(200, std::string("\xff\x00\x01", 3)));
  EXPECT_EQ(h.run({"invoke", "hello", "--local", "http://l", "-o", "json"}), kExitOk);
  json out = json::parse(h.out.str());
  EXPECT_EQ(out["body"], "/wAB");
  EXPECT_EQ(out["bodyEncoding"], "base64");
}

TEST(InvokeTest, ANetworkFailureNamesTheUrl) {
  Harness h;
  h.http.answer(Status(StatusCode::kUnavailable, "connection refused"));
  EXPECT_EQ(h.run({"invoke", "hello", "--local", "http://u:secret@127.0.0.1:1"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice invoke: http://127.0.0.1:1/default/hello: connection refused\n");
}

TEST(InvokeTest, OnTheClusterTheFunctionsStatusUrlIsUsed) {
  Harness h;
  h.kube->put(spec::kFunctions, {{"metadata", {{"name", "hello"}, {"namespace", "team-a"}}},
                                 {"spec", {{"runtime", "builtin"}}},
                                 {"status", {{"url", "http://sluice-gateway.sluice-system.svc:8080/team-a/hello"}}}});
  h.kube->put(spec::kFunctions,
              {{"metadata", {{"name", "nourl"}, {"namespace", "team-a"}}}, {"spec", {{"runtime", "builtin"}}}});
  EXPECT_EQ(h.run({"invoke", "hello", "-d", "x"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.http.requests().at(0).url, "http://sluice-gateway.sluice-system.svc:8080/team-a/hello");
  EXPECT_EQ(h.run({"invoke", "missing"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice invoke: Function team-a/missing not found\n");
  EXPECT_EQ(h.run({"invoke", "nourl"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice invoke: Function team-a/nourl has no URL (status.url): it needs an http Trigger and an operator "
            "run with --gateway-url or --gateway-domain; or pass --gateway URL\n");
  EXPECT_EQ(h.http.requests().size(), 1u);
  // The cluster-internal address does not answer here: the error says how to reach the gateway.
  h.http.answer(Status(StatusCode::kUnavailable, "Host not found"));
  EXPECT_EQ(h.run({"invoke", "hello"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice invoke: http://sluice-gateway.sluice-system.svc:8080/team-a/hello: Host not found "
            "(sluice-gateway.sluice-system.svc is an address inside the cluster: forward a port to the gateway "
            "Service, e.g. kubectl port-forward, and pass --gateway http://127.0.0.1:PORT)\n");
}

}  // namespace
}  // namespace sluice::cli
