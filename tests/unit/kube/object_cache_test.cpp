// ObjectCache: the indexes (namespace, label, owner UID) follow every upsert and
// erase, snapshots stay valid after the cache moves on, and concurrent readers
// and writers agree.
#include "kube/object_cache.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::kube {
namespace {

ObjectPtr object(const std::string& ns, const std::string& name, Json labels, const std::string& ownerUid = "",
                 const std::string& version = "1") {
  Json meta = {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}, {"resourceVersion", version}};
  if (!ownerUid.empty()) {
    meta["ownerReferences"] = Json::array({{{"kind", "Function"}, {"name", "f"}, {"uid", ownerUid}}});
  }
  return std::make_shared<const Json>(Json{{"metadata", meta}});
}

std::set<std::string> names(const std::vector<ObjectPtr>& objects) {
  std::set<std::string> result;
  for (const auto& o : objects) result.insert((*o)["metadata"]["name"]);
  return result;
}

TEST(ObjectCacheTest, IndexesFollowUpsertsAndErases) {
  ObjectCache cache;
  EXPECT_EQ(cache.upsert(object("a", "p1", {{"app", "x"}}, "uid-f")), nullptr);
  EXPECT_EQ(cache.upsert(object("a", "p2", {{"app", "x"}, {"tier", "gold"}}, "uid-f")), nullptr);
  EXPECT_EQ(cache.upsert(object("b", "p3", {{"app", "y"}}, "uid-g")), nullptr);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(names(cache.byNamespace("a")), (std::set<std::string>{"p1", "p2"}));
  EXPECT_EQ(names(cache.byLabel("app", "x")), (std::set<std::string>{"p1", "p2"}));
  EXPECT_EQ(names(cache.byLabel("tier", "gold")), (std::set<std::string>{"p2"}));
  EXPECT_EQ(names(cache.byOwnerUid("uid-f")), (std::set<std::string>{"p1", "p2"}));
  EXPECT_EQ(names(cache.byOwnerUid("uid-g")), (std::set<std::string>{"p3"}));

  // p2 changes its label and is orphaned: the old index entries go.
  auto previous = cache.upsert(object("a", "p2", {{"app", "y"}}, "", "2"));
  ASSERT_NE(previous, nullptr);
  EXPECT_EQ((*previous)["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(names(cache.byLabel("app", "x")), (std::set<std::string>{"p1"}));
  EXPECT_EQ(names(cache.byLabel("app", "y")), (std::set<std::string>{"p2", "p3"}));
  EXPECT_TRUE(cache.byLabel("tier", "gold").empty());
  EXPECT_EQ(names(cache.byOwnerUid("uid-f")), (std::set<std::string>{"p1"}));

  auto removed = cache.erase("a/p1");
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ((*removed)["metadata"]["name"], "p1");
  EXPECT_EQ(cache.erase("a/p1"), nullptr);
  EXPECT_TRUE(cache.byOwnerUid("uid-f").empty());
  EXPECT_TRUE(cache.byLabel("app", "x").empty());
  EXPECT_EQ(names(cache.byNamespace("a")), (std::set<std::string>{"p2"}));
  EXPECT_EQ(cache.get("a/p1"), nullptr);
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"a/p2", "b/p3"}));
}

// An index of the caller's own: built from what is cached at its first lookup, then kept current
// by every change, as the built-in ones are.
TEST(ObjectCacheTest, AnIndexOfTheCallersOwnIsBuiltOnFirstUseAndFollowsChanges) {
  ObjectCache cache;
  const IndexFunc byTier = [](const Json& o) -> std::vector<std::string> {
    const Json& labels = o["metadata"]["labels"];
    if (!labels.contains("tier")) return {};
    return {labels["tier"].get<std::string>()};
  };
  cache.upsert(object("a", "p1", {{"tier", "gold"}}));
  cache.upsert(object("a", "p2", {{"tier", "gold"}}));
  cache.upsert(object("b", "p3", {{"app", "x"}}));
  EXPECT_EQ(names(cache.byIndex("tier", byTier, "gold")), (std::set<std::string>{"p1", "p2"}));
  EXPECT_TRUE(cache.byIndex("tier", byTier, "silver").empty());

  cache.upsert(object("b", "p3", {{"tier", "silver"}}, "", "2"));
  cache.upsert(object("a", "p2", {{"tier", "silver"}}, "", "2"));
  cache.erase("a/p1");
  EXPECT_TRUE(cache.byIndex("tier", byTier, "gold").empty());
  EXPECT_EQ(names(cache.byIndex("tier", byTier, "silver")), (std::set<std::string>{"p2", "p3"}));
}

// Lookups return objects in key order ("namespace/name"), whatever order they were cached in:
// spec::triggersOf hands that order on as "by name" without sorting again.
TEST(ObjectCacheTest, LookupsReturnObjectsInKeyOrder) {
  ObjectCache cache;
  const IndexFunc byTier = [](const Json& o) -> std::vector<std::string> {
    return {o["metadata"]["labels"]["tier"].get<std::string>()};
  };
  for (const char* name : {"p10", "p2", "b", "a-1", "a", "p1"}) cache.upsert(object("a", name, {{"tier", "gold"}}));
  const std::vector<std::string> sorted{"a", "a-1", "b", "p1", "p10", "p2"};
  auto inOrder = [](const std::vector<ObjectPtr>& objects) {
    std::vector<std::string> result;
    for (const auto& o : objects) result.push_back((*o)["metadata"]["name"]);
    return result;
  };
  EXPECT_EQ(inOrder(cache.byIndex("tier", byTier, "gold")), sorted);
  EXPECT_EQ(inOrder(cache.byNamespace("a")), sorted);
  EXPECT_EQ(inOrder(cache.byLabel("tier", "gold")), sorted);
}

TEST(ObjectCacheTest, ClusterScopedObjectsAreKeyedByName) {
  ObjectCache cache;
  cache.upsert(std::make_shared<const Json>(Json{{"metadata", {{"name", "node-1"}}}}));
  ASSERT_NE(cache.get("node-1"), nullptr);
  EXPECT_EQ(names(cache.byNamespace("")), (std::set<std::string>{"node-1"}));
}

TEST(ObjectCacheTest, ASnapshotStaysValidAfterTheCacheMovesOn) {
  ObjectCache cache;
  cache.upsert(object("a", "p", {{"v", "1"}}));
  ObjectPtr snapshot = cache.get("a/p");
  cache.upsert(object("a", "p", {{"v", "2"}}, "", "2"));
  cache.erase("a/p");
  EXPECT_EQ((*snapshot)["metadata"]["labels"]["v"], "1");
}

TEST(ObjectCacheTest, ConcurrentWritersAndReadersSeeConsistentIndexes) {
  ObjectCache cache;
  constexpr int kWriters = 4;
  constexpr int kObjects = 200;
  std::atomic<bool> done{false};
  std::atomic<int> inconsistencies{0};
  std::jthread reader([&] {
    while (!done.load()) {
      // Every object indexed under a label must carry that label.
      for (const auto& o : cache.byLabel("phase", "odd")) {
        if ((*o)["metadata"]["labels"].value("phase", "") != "odd") ++inconsistencies;
      }
    }
  });
  {
    std::vector<std::jthread> writers;
    writers.reserve(kWriters);
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&cache, w] {
        for (int round = 0; round < 5; ++round) {
          for (int i = 0; i < kObjects; ++i) {
            std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
            cache.upsert(object("ns", name, {{"phase", (i + round) % 2 ? "odd" : "even"}}));
          }
        }
        for (int i = 0; i < kObjects; i += 2) cache.erase("ns/w" + std::to_string(w) + "-" + std::to_string(i));
      });
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(inconsistencies.load(), 0);
  EXPECT_EQ(cache.size(), static_cast<size_t>(kWriters * kObjects / 2));
  // Last round (4): odd i have (i + 4) % 2 == 1 -> "odd"; the even i were erased.
  EXPECT_EQ(cache.byLabel("phase", "odd").size(), static_cast<size_t>(kWriters * kObjects / 2));
  EXPECT_TRUE(cache.byLabel("phase", "even").empty());
}

}  // namespace
}  // namespace sluice::kube
