// Informer behaviour that needs no apiserver: periodic resync on a fake clock,
// over the in-memory FakeResourceClient.
#include "kube/informer.h"

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeResourceClient;

class InformerResyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a", "b", "c"}) {
      ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", {{"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}}));
    }
  }

  EventHandler recordingHandler() {
    return {[this](const Json&) {
              std::lock_guard lock(mu_);
              ++adds_;
            },
            [this](const Json& previous, const Json& current) {
              std::lock_guard lock(mu_);
              std::string name = current["metadata"]["name"];
              ++updates_[name];
              if (previous == current) ++unchangedUpdates_[name];
            },
            [this](const Json&) {
              std::lock_guard lock(mu_);
              ++deletes_;
            }};
  }

  bool waitFor(const std::function<bool()>& condition) {
    for (int i = 0; i < 5000; ++i) {
      {
        std::lock_guard lock(mu_);
        if (condition()) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    std::lock_guard lock(mu_);
    return condition();
  }

  FakeClock clock_;
  FakeResourceClient fake_{clock_};
  std::mutex mu_;
  int adds_ = 0;
  int deletes_ = 0;
  std::map<std::string, int> updates_;
  std::map<std::string, int> unchangedUpdates_;
};

TEST_F(InformerResyncTest, EveryPeriodHandlersGetAnUpdateForEachUnchangedObject) {
  InformerOptions options;
  options.ns = "ns";
  options.resyncPeriod = 30s;
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  informer.addHandler(recordingHandler());
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(1));
  ASSERT_TRUE(waitFor([&] { return adds_ == 3; }));

  // The resync thread is the only one waiting on the clock (the reflector waits in the watch).
  clock_.waitForSleepers(1);
  clock_.advance(29s);
  clock_.waitForSleepers(1);
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(updates_.empty()) << "no resync before the period";
  }
  clock_.advance(1s);
  ASSERT_TRUE(waitFor([&] { return updates_.size() == 3 && updates_["a"] == 1 && updates_["c"] == 1; }));

  clock_.waitForSleepers(1);
  clock_.advance(30s);
  ASSERT_TRUE(waitFor([&] { return updates_["a"] == 2 && updates_["b"] == 2 && updates_["c"] == 2; }));
  std::lock_guard lock(mu_);
  EXPECT_EQ(unchangedUpdates_, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  EXPECT_EQ(adds_, 3);
  EXPECT_EQ(deletes_, 0);
  EXPECT_EQ(fake_.callCount("list"), 1) << "a resync re-delivers the cache; it does not relist";
}

TEST_F(InformerResyncTest, AResyncSeesTheLatestStateOfTheCache) {
  InformerOptions options;
  options.ns = "ns";
  options.resyncPeriod = 10s;
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  std::mutex seenMu;
  std::map<std::string, std::string> lastData;
  informer.addHandler({nullptr,
                       [&](const Json&, const Json& current) {
                         std::lock_guard lock(seenMu);
                         lastData[current["metadata"]["name"]] = current["data"]["k"];
                       },
                       nullptr});
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(1));
  ASSERT_TRUE(fake_.patch(resources::kConfigMaps, "ns", "b", PatchType::kMerge, {{"data", {{"k", "new"}}}}));
  ASSERT_TRUE(fake_.remove(resources::kConfigMaps, "ns", "c").isOk());
  for (int i = 0; i < 5000 && informer.cache().size() != 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(informer.cache().size(), 2u);
  {
    std::lock_guard lock(seenMu);
    lastData.clear();  // drop the watch's own update of b
  }
  clock_.waitForSleepers(1);
  clock_.advance(10s);
  bool done = false;
  for (int i = 0; i < 5000 && !done; ++i) {
    std::this_thread::sleep_for(1ms);
    std::lock_guard lock(seenMu);
    done = lastData.size() == 2;
  }
  std::lock_guard lock(seenMu);
  EXPECT_EQ(lastData, (std::map<std::string, std::string>{{"a", "v"}, {"b", "new"}}));
}

TEST_F(InformerResyncTest, AnObjectReplacedUnderItsNameWhileNotWatchingIsADeleteAndAnAdd) {
  InformerOptions options;
  options.ns = "ns";
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  std::mutex seenMu;
  std::vector<std::string> seen;  // "add|update|delete name uid" in order
  auto record = [&](const char* what, const Json& o) {
    std::lock_guard lock(seenMu);
    seen.push_back(std::string(what) + " " + o["metadata"]["name"].get<std::string>() + " " +
                   o["metadata"]["uid"].get<std::string>());
  };
  informer.addHandler({[&](const Json& o) { record("add", o); },
                       [&](const Json&, const Json& current) { record("update", current); },
                       [&](const Json& o) { record("delete", o); }});
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(1));
  const std::string oldUid = (*fake_.object(resources::kConfigMaps, "ns", "a"))["metadata"]["uid"];
  {
    std::lock_guard lock(seenMu);
    seen.clear();
  }
  // The connection drops; while the informer backs off, "a" is deleted and made again, and the
  // history it would resume from is compacted away, so it must relist.
  fake_.endWatches(unavailable("connection reset"));
  clock_.waitForSleepers(1);
  ASSERT_TRUE(fake_.remove(resources::kConfigMaps, "ns", "a").isOk());
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", {{"metadata", {{"name", "a"}}}, {"data", {{"k", "v2"}}}}));
  const std::string newUid = (*fake_.object(resources::kConfigMaps, "ns", "a"))["metadata"]["uid"];
  ASSERT_NE(oldUid, newUid);
  fake_.compact();
  clock_.advance(1s);
  bool done = false;
  for (int i = 0; i < 5000 && !done; ++i) {
    std::this_thread::sleep_for(1ms);
    std::lock_guard lock(seenMu);
    done = seen.size() >= 2;
  }
  ASSERT_GE(informer.relistCount(), 2) << "the informer relisted";
  std::lock_guard lock(seenMu);
  EXPECT_EQ(seen, (std::vector<std::string>{"delete a " + oldUid, "add a " + newUid}));
  EXPECT_EQ((*informer.cache().get("ns/a"))["metadata"]["uid"], newUid);
}

// What no controller reads is not cached: managedFields and kubectl's last-applied annotation
// leave both listed and watched objects; everything else stays.
TEST_F(InformerResyncTest, CachedObjectsLeaveOutManagedFieldsAndTheLastAppliedAnnotation) {
  auto heavy = [](const std::string& name) {
    return Json{
        {"metadata",
         {{"name", name},
          {"annotations",
           {{"kubectl.kubernetes.io/last-applied-configuration", "{\"whole\":\"object\"}"}, {"sluice.io/keep", "yes"}}},
          {"managedFields", Json::array({{{"manager", "kubectl"}, {"operation", "Update"}}})}}},
        {"data", {{"k", name}}}};
  };
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", heavy("listed")));
  InformerOptions options;
  options.ns = "ns";
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(1));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", heavy("watched")));
  for (int i = 0; i < 5000 && !informer.cache().get("ns/watched"); ++i) std::this_thread::sleep_for(1ms);
  for (const char* key : {"ns/listed", "ns/watched"}) {
    ObjectPtr cached = informer.cache().get(key);
    ASSERT_TRUE(cached) << key;
    const Json& meta = (*cached)["metadata"];
    EXPECT_FALSE(meta.contains("managedFields")) << key;
    EXPECT_EQ(meta["annotations"], (Json{{"sluice.io/keep", "yes"}})) << key;
    EXPECT_EQ((*cached)["data"]["k"], std::string(key).substr(3)) << key;
  }
}

// A comma-separated list of namespaces: one list+watch each into one cache,
// nothing of the other namespaces, and one namespace's relist (its watch gone
// and its history compacted) keeps the other's objects.
TEST_F(InformerResyncTest, ANamespaceListWatchesEachIntoOneCache) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "other", {{"metadata", {{"name", "x"}}}}));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "other", {{"metadata", {{"name", "y"}}}}));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "elsewhere", {{"metadata", {{"name", "z"}}}}));
  InformerOptions options;
  options.ns = "ns,other";
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  informer.addHandler(recordingHandler());
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(2));
  EXPECT_EQ(fake_.callCount("list"), 2);
  EXPECT_EQ(informer.cache().keys(), (std::vector<std::string>{"ns/a", "ns/b", "ns/c", "other/x", "other/y"}));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "other", {{"metadata", {{"name", "w"}}}}));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "elsewhere", {{"metadata", {{"name", "v"}}}}));
  ASSERT_TRUE(waitFor([&] { return adds_ == 6; }));
  fake_.endWatches(unavailable("connection reset"));
  fake_.compact();
  clock_.waitForSleepers(2);
  clock_.advance(1s);
  for (int i = 0; i < 5000 && informer.relistCount() < 4; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_GE(informer.relistCount(), 4) << "each namespace relisted";
  EXPECT_EQ(informer.cache().keys(),
            (std::vector<std::string>{"ns/a", "ns/b", "ns/c", "other/w", "other/x", "other/y"}));
  std::lock_guard lock(mu_);
  EXPECT_EQ(deletes_, 0) << "a namespace's relist does not drop the other's objects";
  EXPECT_EQ(adds_, 6);
}

}  // namespace
}  // namespace sluice::kube
