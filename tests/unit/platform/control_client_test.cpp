// The control protocol's client: what each call sends, and how answers map to statuses.
#include "platform/control_client.h"

#include <gtest/gtest.h>

#include "fakes/fake_http_client.h"

namespace sluice::platform {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

class ControlClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<testing::FakeHttpClient> http = std::make_shared<testing::FakeHttpClient>();
  ControlClient client{http};
  const ControlEndpoint pod{"10.0.0.7", 8090, "pod etl/orders-1"};
};

TEST_F(ControlClientTest, EachCallPostsToItsPathWithTheToken) {
  EXPECT_TRUE(client.drain(pod, "t0k", std::chrono::seconds(2)).isOk());
  EXPECT_TRUE(client.specialize(pod, "t0k", R"({"handler":"x"})", std::chrono::seconds(30)).isOk());
  EXPECT_TRUE(client.invoke(pod, "t0k", "nightly", "cron.tick", "{}", std::chrono::seconds(120)).isOk());
  std::vector<http::Request> sent = http->requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].url, "http://10.0.0.7:8090/drain");
  EXPECT_EQ(sent[0].headers, (Headers{{"Authorization", "Bearer t0k"}}));
  EXPECT_EQ(sent[0].timeout, std::chrono::seconds(2));
  EXPECT_EQ(sent[1].url, "http://10.0.0.7:8090/specialize");
  EXPECT_EQ(sent[1].body, R"({"handler":"x"})");
  EXPECT_EQ(sent[1].headers, (Headers{{"Authorization", "Bearer t0k"}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(sent[2].url, "http://10.0.0.7:8090/invoke");
  // The invoke token has its own header: Authorization belongs to the handler's callers.
  EXPECT_EQ(sent[2].headers, (Headers{{"X-Sluice-Invoke-Token", "t0k"},
                                      {"X-Sluice-Trigger", "nightly"},
                                      {"X-Sluice-Event-Type", "cron.tick"},
                                      {"Content-Type", "application/json"}}));
}

TEST_F(ControlClientTest, AnInvocationWithoutTokenOrBodySendsNeither) {
  EXPECT_TRUE(client.invoke({"127.0.0.1", 4711, "process"}, "", "t", "e", "", std::chrono::seconds(1)).isOk());
  EXPECT_EQ(http->requests().at(0).headers, (Headers{{"X-Sluice-Trigger", "t"}, {"X-Sluice-Event-Type", "e"}}));
}

TEST_F(ControlClientTest, AnswersMapToRetryableOrTerminalStatuses) {
  http->answer(http::Response{503, {}, "draining\n"});
  Status draining = client.specialize(pod, "t", "{}", std::chrono::seconds(1));
  EXPECT_EQ(draining.code(), StatusCode::kUnavailable);
  EXPECT_EQ(draining.message(), "POST http://10.0.0.7:8090/specialize (pod etl/orders-1): 503 draining");
  http->answer(http::Response{401, {}, "bad token"});
  EXPECT_EQ(client.drain(pod, "t", std::chrono::seconds(1)).code(), StatusCode::kPermissionDenied);
  http->answer(http::Response{400, {}, "bad configuration"});
  EXPECT_EQ(client.specialize(pod, "t", "{}", std::chrono::seconds(1)).code(), StatusCode::kInternal);
  http->answer(unavailable("connection refused"));
  Status down = client.drain(pod, "t", std::chrono::seconds(1));
  EXPECT_EQ(down.code(), StatusCode::kUnavailable);
  EXPECT_EQ(down.message(), "POST http://10.0.0.7:8090/drain (pod etl/orders-1): connection refused");
}

TEST_F(ControlClientTest, ReadyIsA200FromReadyzAndIPv6GetsBrackets) {
  http->answer(http::Response{200, {}, "ok"});
  EXPECT_TRUE(client.ready({"fd00::7", 8090, "pod"}, std::chrono::milliseconds(500)));
  EXPECT_EQ(http->requests().at(0).url, "http://[fd00::7]:8090/readyz");
  http->answer(http::Response{503, {}, "not yet"});
  EXPECT_FALSE(client.ready(pod, std::chrono::milliseconds(500)));
}

}  // namespace
}  // namespace sluice::platform
