// One probe per endpoint per while, shared by every Trigger naming it.
#include "controllers/trigger/probe_memo.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/fake_clock.h"

namespace sluice::controllers {
namespace {

using namespace std::chrono_literals;

class ProbeMemoTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  std::vector<std::string> probed;
  bool reachable = true;
  ProbeMemo memo{[this](const std::string& host, int port) {
                   probed.push_back(host + ":" + std::to_string(port));
                   return reachable ? Status::ok() : unavailable(host + ": Connection refused");
                 },
                 clock, 20s};
};

TEST_F(ProbeMemoTest, OneEndpointIsProbedOnceWhileItsAnswerIsFresh) {
  for (int trigger = 0; trigger < 500; ++trigger) EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  EXPECT_EQ(probed, std::vector<std::string>{"kafka:9092"});
  clock.advance(19s);
  EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  EXPECT_EQ(probed.size(), 1u);
  clock.advance(1s);
  EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  EXPECT_EQ(probed.size(), 2u);
}

TEST_F(ProbeMemoTest, EachEndpointHasItsOwnAnswer) {
  EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  reachable = false;
  Status other = memo.probe("kafka", 9093);
  EXPECT_EQ(other.message(), "kafka: Connection refused");
  EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  EXPECT_EQ(probed, (std::vector<std::string>{"kafka:9092", "kafka:9093"}));
}

TEST_F(ProbeMemoTest, AFailureIsReusedUntilStaleThenTheBrokerIsSeenBack) {
  reachable = false;
  EXPECT_FALSE(memo.probe("kafka", 9092).isOk());
  reachable = true;
  EXPECT_FALSE(memo.probe("kafka", 9092).isOk());
  clock.advance(20s);
  EXPECT_TRUE(memo.probe("kafka", 9092).isOk());
  EXPECT_EQ(probed.size(), 2u);
}

}  // namespace
}  // namespace sluice::controllers
