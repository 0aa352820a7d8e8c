// A Trigger's own retry and dead letter (its spec.delivery, rendered into the
// runtime configuration's triggers[i].retry and .deadLetter) reach the
// delivery loop through the wiring: two triggers of one always-failing
// function, one with maxAttempts 1 and one with 3, differ in exactly that.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/clock.h"
#include "delivery_test_util.h"
#include "fakes/fake_handler.h"
#include "fakes/fake_sink.h"
#include "runtime/config/config_parser.h"
#include "runtime/control/wiring.h"

namespace sluice::runtime {
namespace {

using testing::FakeHandler;
using testing::FakeSink;

// The function's own backoff is ten minutes: a retry that used it instead of
// the trigger's 1 ms would never finish within the completions' bound.
constexpr const char* kConfig = R"(
name: fails
runtime: builtin
pipeline:
- set: {fields: {seen: true}}
retry: {maxAttempts: 5, backoff: {initialDelay: 10m, maxDelay: 10m}}
deadLetter: {dir: {path: /tmp/sluice-function-dlq}}
triggers:
- name: once
  http: {path: /once}
  retry: {maxAttempts: 1, backoff: {initialDelay: 1ms, maxDelay: 1ms}}
  deadLetter: {dir: {path: DLQ_DIR}}
- name: thrice
  http: {path: /thrice}
  retry: {maxAttempts: 3, backoff: {initialDelay: 1ms, maxDelay: 1ms}}
)";

int callsFor(const FakeHandler& handler, const std::string& id) {
  int calls = 0;
  for (const auto& call : handler.calls()) calls += call.eventId == id ? 1 : 0;
  return calls;
}

TEST(TriggerDeliveryTest, RetryOneDeadLettersAfterOneAttemptRetryThreeMakesThree) {
  const std::string dlq = std::filesystem::temp_directory_path() / "sluice-trigger-delivery-test-dlq";
  std::filesystem::create_directories(dlq);
  std::string text = kConfig;
  text.replace(text.find("DLQ_DIR"), 7, dlq);
  auto config = config::parseFunctionConfig(text);
  ASSERT_TRUE(config.isOk()) << config.status().toString();

  // The trigger with a deadLetter gets its own sink; the other has none (the function's applies).
  auto onceDeadLetter = buildTriggerDeadLetter(config->triggers[0]);
  ASSERT_TRUE(onceDeadLetter.isOk()) << onceDeadLetter.status().toString();
  EXPECT_NE(*onceDeadLetter, nullptr);
  auto thriceDeadLetter = buildTriggerDeadLetter(config->triggers[1]);
  ASSERT_TRUE(thriceDeadLetter.isOk());
  EXPECT_EQ(*thriceDeadLetter, nullptr);

  DeliveryOptions options = deliveryOptionsFor(*config);
  EXPECT_EQ(options.maxAttempts, 5);
  EXPECT_EQ(options.maxAttemptsByTrigger, (std::map<std::string, int>{{"once", 1}, {"thrice", 3}}));
  FakeHandler handler([](const Event& event, const InvocationContext&) -> Result<std::vector<Record>> {
    return internalError("cannot handle " + event.id);
  });
  FakeSink out;
  FakeSink functionDeadLetter;
  FakeSink onceSink;  // stands in for the dir sink built above, to read back what it was given
  RuntimeMetrics metrics;
  Completions completions;
  DeliveryLoop loop(options, handler, {{"", &out}}, &functionDeadLetter, metrics, realClock());
  loop.setTriggerDeadLetter("once", &onceSink);
  loop.start();
  loop.dispatch(makeEvent("a"), "", "once", completions.callbackFor("a"));
  loop.dispatch(makeEvent("b"), "", "thrice", completions.callbackFor("b"));
  ASSERT_TRUE(completions.waitFor(2)) << "a retry waited with the function's 10 min backoff";

  EXPECT_EQ(callsFor(handler, "a"), 1);
  EXPECT_EQ(callsFor(handler, "b"), 3);
  auto once = onceSink.acknowledged();
  ASSERT_EQ(once.size(), 1u);
  EXPECT_EQ(once[0].value, "payload-a");
  EXPECT_EQ(once[0].headers[2], (std::pair<std::string, std::string>{"x-sluice-attempts", "1"}));
  auto function = functionDeadLetter.acknowledged();
  ASSERT_EQ(function.size(), 1u) << "the trigger without its own dead letter uses the function's";
  EXPECT_EQ(function[0].value, "payload-b");
  EXPECT_EQ(function[0].headers[2], (std::pair<std::string, std::string>{"x-sluice-attempts", "3"}));
  loop.stop();
  std::filesystem::remove_all(dlq);
}

}  // namespace
}  // namespace sluice::runtime
