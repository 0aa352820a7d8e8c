// EventRecorder against the real kube-apiserver of tests/env: a hot loop of
// identical events leaves one core/v1 Event whose count field the apiserver
// stores, capped by the per-object spam filter (burst 25).
#include <gtest/gtest.h>

#include "common/clock.h"
#include "reconcile/event_recorder.h"
#include "kube_env.h"

namespace sluice::kube {
namespace {

using testing::connectFromEnv;
using testing::ScopedNamespace;

TEST(EventRecorderIntegrationTest, AHotLoopOfIdenticalEventsIsOneEventWithItsCountOnTheServer) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  ScopedNamespace ns(*client, "events");
  auto subject =
      client->create(resources::kConfigMaps, ns.name(),
                     {{"metadata", {{"name", "subject"}, {"namespace", ns.name()}}}, {"data", {{"k", "v"}}}});
  ASSERT_TRUE(subject) << subject.status().toString();

  reconcile::EventRecorder recorder(*client, "sluice-test", realClock());
  // 100 records finish far inside the 5 minutes the filter needs to earn one more token.
  for (int i = 0; i < 100; ++i) recorder.record(*subject, "Warning", "HotLoop", "the same thing went wrong again");
  recorder.record(*subject, "Normal", "Other", "a different reason");  // dropped too: the bucket is per object

  EXPECT_EQ(recorder.created(), 1);
  EXPECT_EQ(recorder.aggregated(), 24);
  EXPECT_EQ(recorder.dropped(), 76);

  auto events = client->list(resources::kEvents, ns.name(), {});
  ASSERT_TRUE(events) << events.status().toString();
  ASSERT_EQ((*events)["items"].size(), 1u) << events->dump(2);
  const Json& event = (*events)["items"][0];
  EXPECT_EQ(event["count"], 25);
  EXPECT_EQ(event["reason"], "HotLoop");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["message"], "the same thing went wrong again");
  EXPECT_EQ(event["involvedObject"]["kind"], "ConfigMap");
  EXPECT_EQ(event["involvedObject"]["name"], "subject");
  EXPECT_EQ(event["involvedObject"]["uid"], (*subject)["metadata"]["uid"]);
  EXPECT_EQ(event["source"]["component"], "sluice-test");
  EXPECT_FALSE(event.value("firstTimestamp", "").empty());
  EXPECT_FALSE(event.value("lastTimestamp", "").empty());
}

TEST(EventRecorderIntegrationTest, DistinctMessagesOnAnObjectAreDistinctEvents) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  ScopedNamespace ns(*client, "events");
  auto subject =
      client->create(resources::kConfigMaps, ns.name(),
                     {{"metadata", {{"name", "subject"}, {"namespace", ns.name()}}}, {"data", {{"k", "v"}}}});
  ASSERT_TRUE(subject) << subject.status().toString();

  reconcile::EventRecorder recorder(*client, "sluice-test", realClock());
  for (int i = 0; i < 3; ++i) {
    recorder.record(*subject, "Normal", "ScaledUp", "1 -> 2");
    recorder.record(*subject, "Normal", "ScaledDown", "2 -> 1");
  }
  auto events = client->list(resources::kEvents, ns.name(), {});
  ASSERT_TRUE(events) << events.status().toString();
  ASSERT_EQ((*events)["items"].size(), 2u) << events->dump(2);
  for (const auto& event : (*events)["items"]) EXPECT_EQ(event["count"], 3) << event.dump(2);
}

}  // namespace
}  // namespace sluice::kube
