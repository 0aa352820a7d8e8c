// KafkaSink::flush measures its budget on the sink's clock (KafkaSinkOptions::
// clock), the delivery loop's: a deadline already past on that clock fails at
// once, with the records still unconfirmed, though real time would allow half
// a minute more. No broker: nothing listens on the bootstrap address (so the
// sink's destructor spends its 10 s flush bound on the unsent record).
#include "runtime/sinks/kafka_sink.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/free_port.h"
#include "fakes/fake_clock.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

TEST(KafkaSinkClockTest, FlushMeasuresItsDeadlineOnTheSinksClock) {
  // The sink's clock runs an hour ahead of real time.
  testing::FakeClock clock(realClock().now() + 1h);
  KafkaSinkOptions options;
  options.bootstrapServers = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  options.topic = "unreachable";
  options.clock = &clock;
  auto sink = KafkaSink::create(options);
  ASSERT_TRUE(sink.isOk()) << sink.status().toString();
  Record record;
  record.value = "v";
  (*sink)->write(record, [](const Status&) {});

  const auto began = std::chrono::steady_clock::now();
  Status flushed = (*sink)->flush(realClock().now() + 30s);  // past on the sink's clock
  EXPECT_EQ(flushed.code(), StatusCode::kDeadlineExceeded) << flushed.toString();
  EXPECT_NE(flushed.message().find("1 record(s) unconfirmed"), std::string::npos) << flushed.message();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms) << "flush waited on real time";
}

}  // namespace
}  // namespace sluice::runtime
