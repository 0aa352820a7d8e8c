// Handler::handleEach, the default one handle() call per event: each event is
// timed on the context's clock (the delivery loop's), and one that returned
// after its timeout fails with DeadlineExceeded.
#include "runtime/core/handler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_handler.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeClock;
using sluice::testing::FakeHandler;

Event eventWithId(const std::string& id) {
  Event event;
  event.id = id;
  event.data = id;
  return event;
}

TEST(HandleEachTest, EachEventIsTimedOnTheContextsClock) {
  FakeClock clock;
  const Clock::TimePoint start = clock.now();
  FakeHandler handler([&clock](const Event& event, const InvocationContext& context) {
    clock.advance(event.id == "slow" ? 1500ms : 200ms);
    return FakeHandler::echo(event, context);
  });
  InvocationContext context;
  context.clock = &clock;

  std::vector<EachResult> results =
      handler.handleEach({eventWithId("fast"), eventWithId("slow"), eventWithId("after")}, context, 1000ms);

  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].outputs.isOk());
  EXPECT_DOUBLE_EQ(results[0].seconds, 0.2);
  ASSERT_FALSE(results[1].outputs.isOk());
  EXPECT_EQ(results[1].outputs.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(results[1].outputs.status().message(), "handler overran its timeout of 1000 ms");
  EXPECT_DOUBLE_EQ(results[1].seconds, 1.5);
  EXPECT_TRUE(results[2].outputs.isOk()) << "the next event gets its own timeout";
  // Every event's deadline is its own start on that clock plus the timeout.
  std::vector<FakeHandler::Call> calls = handler.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].deadline, start + 1000ms);
  EXPECT_EQ(calls[1].deadline, start + 200ms + 1000ms);
  EXPECT_EQ(calls[2].deadline, start + 1700ms + 1000ms);
}

}  // namespace
}  // namespace sluice::runtime
