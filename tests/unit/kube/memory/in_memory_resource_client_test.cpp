// What --local relies on beyond the fake's apiserver semantics
// (fake_resource_client_test covers those): a manifest put again moves
// nothing and keeps status, Events go to the observer, and a bounded history
// compacts: a watch from before it, or one that falls that far behind, gets
// 410 Gone, and an informer relists and converges.
#include "kube/memory/in_memory_resource_client.h"

#include <atomic>
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "kube/informer.h"
#include "spec/resources.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;

Json function(int maxReplicas) {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "fn"}, {"namespace", "default"}}},
          {"spec", {{"scaling", {{"maxReplicas", maxReplicas}}}}}};
}

Json configMap(const std::string& name, const std::string& value) {
  return {{"metadata", {{"name", name}, {"namespace", "ns"}}}, {"data", {{"k", value}}}};
}

TEST(InMemoryResourceClientTest, AManifestPutAgainMovesNothingAndKeepsStatus) {
  InMemoryResourceClient store;
  store.putKeepingStatus(spec::kFunctions, function(3));
  auto first = store.get(spec::kFunctions, "default", "fn");
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ((*first)["metadata"]["generation"], 1);
  const Json uid = (*first)["metadata"]["uid"];

  auto patched = store.patch(spec::kFunctions, "default", "fn", PatchType::kMerge,
                             Json{{"status", {{"desiredReplicas", 2}}}, {"spec", {{"replicas", 9}}}},
                             PatchOptions{"test", false, "status"});
  ASSERT_TRUE(patched.isOk());
  EXPECT_EQ((*patched)["status"]["desiredReplicas"], 2);
  EXPECT_FALSE((*patched)["spec"].contains("replicas"));  // a status patch leaves spec alone
  EXPECT_EQ((*patched)["metadata"]["generation"], 1);
  const long version = store.resourceVersion();

  store.putKeepingStatus(spec::kFunctions, function(3));  // the same manifest read again: nothing moves
  EXPECT_EQ(store.resourceVersion(), version);
  store.putKeepingStatus(spec::kFunctions, function(5));  // an edit: generation moves, uid and status stay
  auto edited = store.object(spec::kFunctions, "default", "fn");
  ASSERT_TRUE(edited);
  EXPECT_EQ((*edited)["metadata"]["generation"], 2);
  EXPECT_EQ((*edited)["metadata"]["uid"], uid);
  EXPECT_EQ((*edited)["status"]["desiredReplicas"], 2);

  ASSERT_TRUE(store.remove(spec::kFunctions, "default", "fn").isOk());
  EXPECT_EQ(store.get(spec::kFunctions, "default", "fn").status().code(), StatusCode::kNotFound);
}

TEST(InMemoryResourceClientTest, EventsGoToTheObserverAndAreNotKept) {
  std::vector<Json> seen;
  InMemoryResourceClientOptions options;
  options.eventObserver = [&](const Json& event) { seen.push_back(event); };
  InMemoryResourceClient store(realClock(), options);
  const Json event = {{"metadata", {{"name", "fn.1"}}}, {"reason", "ScaledUp"}};
  ASSERT_TRUE(store.create(resources::kEvents, "default", event).isOk());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["reason"], "ScaledUp");
  EXPECT_TRUE(store.objects(resources::kEvents).empty());
  // An aggregated Event's count: accepted, nothing kept.
  EXPECT_TRUE(store.patch(resources::kEvents, "default", "fn.1", PatchType::kMerge, {{"count", 2}}).isOk());
  EXPECT_EQ(store.get(resources::kSecrets, "default", "creds").status().code(), StatusCode::kNotFound);
}

TEST(InMemoryResourceClientTest, ABoundedHistoryGivesGoneToWatchesFromBeforeIt) {
  InMemoryResourceClientOptions options;
  options.historyLimit = 4;
  InMemoryResourceClient store(realClock(), options);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store.create(resources::kConfigMaps, "ns", configMap(std::to_string(i), "")));
  WatchOptions old;
  old.resourceVersion = "1";
  std::atomic<int> events{0};
  Status gone = store.watch(
      resources::kConfigMaps, "ns", old, [&](WatchEvent&&) { ++events; }, std::stop_token());
  EXPECT_EQ(gone.code(), StatusCode::kGone);
  EXPECT_EQ(events.load(), 0);

  // From a version still kept: the later changes, then live ones.
  WatchOptions recent;
  recent.resourceVersion = "9";
  std::vector<std::string> names;
  std::stop_source stop;
  std::jthread watcher([&] {
    (void)store.watch(
        resources::kConfigMaps, "ns", recent,
        [&](WatchEvent&& event) {
          names.push_back(event.object["metadata"]["name"]);
          if (names.size() == 2) stop.request_stop();
        },
        stop.get_token());
  });
  ASSERT_TRUE(store.waitForWatches(1));
  ASSERT_TRUE(store.create(resources::kConfigMaps, "ns", configMap("live", "")));
  watcher.join();
  EXPECT_EQ(names, (std::vector<std::string>{"9", "live"}));
}

TEST(InMemoryResourceClientTest, AWatchThatFallsBehindTheHistoryEndsGone) {
  InMemoryResourceClientOptions options;
  options.historyLimit = 4;
  InMemoryResourceClient store(realClock(), options);
  ASSERT_TRUE(store.create(resources::kConfigMaps, "ns", configMap("a", "0")));
  std::latch delivering(1);
  std::latch release(1);
  Status result;
  std::jthread watcher([&] {
    WatchOptions from;
    from.resourceVersion = "1";
    result = store.watch(
        resources::kConfigMaps, "ns", from,
        [&](WatchEvent&&) {
          delivering.count_down();
          release.wait();  // a slow consumer
        },
        std::stop_token());
  });
  ASSERT_TRUE(store.waitForWatches(1));
  ASSERT_TRUE(store.patch(resources::kConfigMaps, "ns", "a", PatchType::kMerge, {{"data", {{"k", "1"}}}}));
  delivering.wait();
  for (int i = 2; i < 12; ++i) {
    ASSERT_TRUE(
        store.patch(resources::kConfigMaps, "ns", "a", PatchType::kMerge, {{"data", {{"k", std::to_string(i)}}}}));
  }
  release.count_down();
  watcher.join();
  EXPECT_EQ(result.code(), StatusCode::kGone);
}

TEST(InMemoryResourceClientTest, AnInformerThatFellBehindRelistsAndConverges) {
  InMemoryResourceClientOptions options;
  options.historyLimit = 4;
  InMemoryResourceClient store(realClock(), options);
  InformerOptions scope;
  scope.ns = "ns";
  Informer informer(store, resources::kConfigMaps, scope, realClock());
  std::latch firstSeen(1);
  std::latch release(1);
  std::atomic<bool> blocked{false};
  // The first event's handler is slow: the changes after it outrun the history.
  informer.addHandler({[&](const Json&) {
                         if (!blocked.exchange(true)) {
                           firstSeen.count_down();
                           release.wait();
                         }
                       },
                       nullptr, nullptr});
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(store.create(resources::kConfigMaps, "ns", configMap("m0", "v")));
  firstSeen.wait();
  for (int i = 1; i < 50; ++i) {
    ASSERT_TRUE(store.create(resources::kConfigMaps, "ns", configMap("m" + std::to_string(i), "v")));
  }
  ASSERT_TRUE(store.remove(resources::kConfigMaps, "ns", "m0").isOk());
  release.count_down();
  bool converged = false;
  for (int i = 0; i < 1000 && !converged; ++i) {
    converged = informer.cache().size() == 49 && !informer.cache().get("ns/m0") && informer.cache().get("ns/m49");
    if (!converged) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(converged) << "cache holds " << informer.cache().size() << " objects";
  EXPECT_EQ(informer.relistCount(), 2) << "the 410 made it list again";
}

}  // namespace
}  // namespace sluice::kube
