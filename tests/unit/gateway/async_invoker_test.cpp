// AsyncInvoker over a fake InvocationQueue: 202 with the request id only once
// the queue kept the request; 400 naming spec.http.async when the Trigger has
// none; 503 + Retry-After when the queue or the Trigger's Secret fails (so
// nothing is reported accepted that was not kept); the invocation-type header.
#include "gateway/async_invoker.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::gateway {
namespace {

class FakeInvocationQueue final : public InvocationQueue {
 public:
  Status enqueue(const AsyncTarget& target, const std::string& requestId, const UpstreamRequest& request) override {
    if (!failWith.isOk()) return failWith;
    kept.push_back({target.queue, requestId, request.body});
    return Status::ok();
  }
  struct Kept {
    std::string queue, requestId, body;
  };
  std::vector<Kept> kept;
  Status failWith = Status::ok();
};

std::string header(const http::ServerResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

class AsyncInvokerTest : public ::testing::Test {
 protected:
  Result<std::shared_ptr<const AsyncTarget>> target =
      std::make_shared<const AsyncTarget>(AsyncTarget{"amqp://broker", "orders-async", std::nullopt, {}});
  FakeInvocationQueue queue;
  int ids = 0;
  AsyncInvoker invoker{[this](const std::string&, const std::string&) { return target; }, queue,
                       [this]() -> Result<std::string> { return "req-" + std::to_string(++ids); }, 2};
  Route route{"shop", "orders", "/new", ""};
  UpstreamRequest invoke{{{"sluice.http.method", "POST"}}, "{\"item\":1}"};
};

TEST_F(AsyncInvokerTest, AcceptsWith202AndTheRequestIdOnceTheQueueKeptIt) {
  http::ServerResponse response = invoker.accept(route, "orders-http", invoke);
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(header(response, kRequestIdHeader), "req-1");
  EXPECT_EQ(response.body, "{\"requestId\":\"req-1\"}\n");
  ASSERT_EQ(queue.kept.size(), 1u);
  EXPECT_EQ(queue.kept[0].queue, "orders-async");
  EXPECT_EQ(queue.kept[0].requestId, "req-1");
  EXPECT_EQ(queue.kept[0].body, "{\"item\":1}");
}

TEST_F(AsyncInvokerTest, WithoutSpecHttpAsyncTheRequestIsRefusedNamingTheField) {
  target = std::shared_ptr<const AsyncTarget>();
  http::ServerResponse response = invoker.accept(route, "orders-http", invoke);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            "Function shop/orders takes no asynchronous invocations: its Trigger shop/orders-http has no "
            "spec.http.async (set spec.http.async.rabbitmq or spec.http.async.kafka to accept "
            "X-Sluice-Invocation-Type: Event)\n");
  EXPECT_TRUE(queue.kept.empty());
}

TEST_F(AsyncInvokerTest, AQueueOrSecretFailureIs503AndNothingIsAccepted) {
  queue.failWith = unavailable("broker down");
  http::ServerResponse response = invoker.accept(route, "orders-http", invoke);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(header(response, "Retry-After"), "2");
  EXPECT_EQ(header(response, kRequestIdHeader), "");
  EXPECT_NE(response.body.find("broker down"), std::string::npos) << response.body;

  target = Status(StatusCode::kNotFound, "Secret shop/rabbit has no key url");
  response = invoker.accept(route, "orders-http", invoke);
  EXPECT_EQ(response.status, 503);
  EXPECT_NE(response.body.find("Secret shop/rabbit has no key url"), std::string::npos) << response.body;
}

TEST(InvocationTypeTest, EventOrRequestResponseCaseInsensitiveElseAnError) {
  http::ServerRequest request;
  EXPECT_EQ(*invocationTypeOf(request), InvocationType::kRequestResponse);
  request.headers = {{"x-sluice-invocation-type", "event"}};
  EXPECT_EQ(*invocationTypeOf(request), InvocationType::kEvent);
  request.headers = {{"X-Sluice-Invocation-Type", "RequestResponse"}};
  EXPECT_EQ(*invocationTypeOf(request), InvocationType::kRequestResponse);
  request.headers = {{"x-sluice-invocation-type", "DryRun"}};
  Result<InvocationType> bad = invocationTypeOf(request);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(), "X-Sluice-Invocation-Type: \"DryRun\" is not RequestResponse or Event");
}

}  // namespace
}  // namespace sluice::gateway
