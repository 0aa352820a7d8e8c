// RabbitMQQueueScaler with an AMQP passive-declare probe next to the
// management API: the fresher of the two counts, and which failure matters.
#include <gtest/gtest.h>

#include "fakes/fake_url_http_client.h"
#include "scalers/rabbitmq_scaler.h"

namespace sluice::scalers {
namespace {

const std::string kQueueUrl = "http://u:p@127.0.0.1:15672/api/queues/%2F/jobs";

class ScriptedProbe final : public QueueDepthProbe {
 public:
  explicit ScriptedProbe(Result<int64_t> answer) : answer_(std::move(answer)) {}
  Result<int64_t> readyMessages() override { return answer_; }

 private:
  Result<int64_t> answer_;
};

RabbitMQQueueScaler scalerWith(std::shared_ptr<testing::FakeUrlHttpClient> http, Result<int64_t> probe,
                               std::string managementUrl = "http://u:p@127.0.0.1:15672") {
  RabbitMQQueueOptions options{std::move(managementUrl), "/", "jobs"};
  return RabbitMQQueueScaler(options, std::move(http), std::make_unique<ScriptedProbe>(std::move(probe)));
}

TEST(RabbitMQProbeTest, PassiveDeclareShowsMessagesTheManagementApiHasNotCountedYet) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"messages": 0, "messages_ready": 0})");
  auto scaler = scalerWith(http, int64_t{7});
  auto reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 7);
  EXPECT_TRUE(reading->active);
}

TEST(RabbitMQProbeTest, UnackedMessagesFromTheManagementApiStillCount) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"messages": 30, "messages_ready": 2})");
  auto reading = scalerWith(http, int64_t{2}).read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 30);
}

TEST(RabbitMQProbeTest, AFailedProbeFallsBackToTheManagementApi) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"messages": 4})");
  auto reading = scalerWith(http, unavailable("rabbitmq amqp://127.0.0.1:5672/%2f: connect: refused")).read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 4);
}

TEST(RabbitMQProbeTest, AFailedManagementApiFailsTheRead) {
  // Ready messages alone would hide the unacknowledged ones being worked on.
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->fail(kQueueUrl, "connection refused");
  auto reading = scalerWith(http, int64_t{9}).read();
  ASSERT_FALSE(reading.isOk());
  EXPECT_EQ(reading.status().message(), "rabbitmq depth of queue jobs: connection refused");
}

TEST(RabbitMQProbeTest, WithoutAManagementUrlTheProbeAloneMeasures) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  auto reading = scalerWith(http, int64_t{0}, "").read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 0);
  EXPECT_FALSE(reading->active);
  EXPECT_TRUE(http->asked.empty());
  auto failed = scalerWith(http, Status(StatusCode::kNotFound, "no queue 'jobs'"), "").read();
  EXPECT_EQ(failed.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::scalers
