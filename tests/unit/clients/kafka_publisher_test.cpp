// KafkaPublisher without a broker: a record nobody acknowledges fails the
// publish once the confirm timeout is over (the caller answers 503, so the
// record was never reported kept), naming the topic and the brokers.
#include "clients/kafka_publisher.h"

#include <gtest/gtest.h>

#include "common/free_port.h"

namespace sluice::clients {
namespace {

using namespace std::chrono_literals;

TEST(KafkaPublisherTest, AnUnacknowledgedRecordFailsAtTheConfirmTimeout) {
  const std::string brokers = "127.0.0.1:" + std::to_string(freeLoopbackPort());  // nothing listens there
  auto publisher = KafkaPublisher::create(brokers, {}, 500ms);
  ASSERT_TRUE(publisher.isOk()) << publisher.status().toString();
  Status published = (*publisher)->publish("invocations", KafkaRecord{"id-1", {{"sluice.http.method", "POST"}}, "{}"});
  EXPECT_EQ(published.code(), StatusCode::kUnavailable);
  EXPECT_EQ(published.message(), "kafka topic invocations (bootstrap " + brokers + "): Local: Message timed out");
}

TEST(KafkaPublisherTest, ABadPropertyIsRefusedNamingIt) {
  auto publisher = KafkaPublisher::create("127.0.0.1:9", {{"no.such.property", "1"}});
  ASSERT_FALSE(publisher.isOk());
  EXPECT_EQ(publisher.status().message(),
            "kafka publisher: kafka property \"no.such.property\": No such configuration property: "
            "\"no.such.property\"");
}

}  // namespace
}  // namespace sluice::clients
