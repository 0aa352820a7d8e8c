// The Gateway over real loopback sockets with an AsyncInvoker: asynchronous
// invocations accepted with 202 are arrivals the Function must process, so
// they count in its requestsPerSecond (the rate target's input, /loads) like
// synchronous calls; one the queue could not keep (503, the client retries)
// does not count, and none of them is sent to a replica.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/logging.h"
#include "fakes/fake_clock.h"
#include "gateway/async_invoker.h"
#include "gateway/gateway.h"

// After logging.h: cpprest defines a U() macro that breaks fmt's headers.
#include <cpprest/http_client.h>

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;

class CountingReplica final : public Upstream {
 public:
  void forward(const std::string&, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)> done) override {
    ++calls;
    UpstreamResult result;
    result.response.status = 200;
    done(std::move(result));
  }
  int calls = 0;
};

class KeepingQueue final : public InvocationQueue {
 public:
  Status enqueue(const AsyncTarget&, const std::string&, const UpstreamRequest&) override {
    if (!failWith.isOk()) return failWith;
    ++kept;
    return Status::ok();
  }
  int kept = 0;
  Status failWith = Status::ok();
};

int postEvent(int port) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  web::http::http_request request(web::http::methods::POST);
  request.set_request_uri("/ns/fn/orders");
  request.headers().add("X-Sluice-Invocation-Type", "Event");
  request.set_body(std::string("{\"id\":1}"));
  return client.request(request).get().status_code();
}

TEST(GatewayAsyncRateTest, AcceptedAsynchronousInvocationsCountInTheRequestRate) {
  testing::FakeClock clock;
  CountingReplica replica;
  Dispatcher dispatcher(DispatcherOptions{}, replica, clock);  // a 6 s rate window
  dispatcher.setFunction("ns/fn", FunctionRoute{{}, 1});       // at zero, as an async-only Function often is
  GatewayOptions options;
  options.listenAddress = "127.0.0.1:0";
  options.adminAddress = "127.0.0.1:0";
  options.invokeToken = "token";
  Gateway gateway(
      options, dispatcher, [](const std::string&) { return std::optional<std::string>("fn-http"); },
      [] { return std::string(); }, std::make_shared<prometheus::Registry>());
  KeepingQueue queue;
  AsyncInvoker invoker(
      [](const std::string&, const std::string&) -> Result<std::shared_ptr<const AsyncTarget>> {
        return std::make_shared<const AsyncTarget>(AsyncTarget{"amqp://broker", "fn-async", std::nullopt, {}});
      },
      queue, []() -> Result<std::string> { return std::string("id"); });
  gateway.setAsyncInvoker(&invoker);
  ASSERT_TRUE(gateway.start().isOk());

  for (int i = 0; i < 3; ++i) EXPECT_EQ(postEvent(gateway.port()), 202);
  queue.failWith = unavailable("broker down");
  EXPECT_EQ(postEvent(gateway.port()), 503);
  EXPECT_EQ(queue.kept, 3);
  EXPECT_EQ(replica.calls, 0);
  ASSERT_EQ(dispatcher.loads().size(), 1u);
  EXPECT_DOUBLE_EQ(dispatcher.loads()[0].requestsPerSecond, 3.0 / 6);
  EXPECT_EQ(dispatcher.loads()[0].pending, 0) << "an accepted invocation waits in its broker, not in the gateway";
  clock.advance(7s);  // out of the window
  EXPECT_EQ(dispatcher.loads()[0].requestsPerSecond, 0);
  gateway.stop(1s);
}

}  // namespace
}  // namespace sluice::gateway
