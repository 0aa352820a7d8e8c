// The in-memory FakeResourceClient behaves as the apiserver does where
// controller tests depend on it, and an Informer runs on its watch feed.
#include "fakes/fake_resource_client.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "kube/informer.h"
#include "kube/retry.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeResourceClient;

const ResourceType kFunctions{"sluice.io", "v1alpha1", "functions", "Function", true};

Json configMap(const std::string& ns, const std::string& name, Json labels = Json::object()) {
  return {{"metadata", {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}}, {"data", {{"k", "v"}}}};
}

std::vector<std::string> names(const Json& list) {
  std::vector<std::string> result;
  for (const auto& item : list["items"]) result.push_back(item["metadata"]["name"]);
  return result;
}

class FakeResourceClientTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  FakeResourceClient fake_{clock_};
};

TEST_F(FakeResourceClientTest, CreateAssignsSystemFieldsAndRejectsADuplicate) {
  auto created = fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a"));
  ASSERT_TRUE(created) << created.status().toString();
  const Json& meta = (*created)["metadata"];
  EXPECT_EQ(meta["uid"], "fake-uid-1");
  EXPECT_EQ(meta["resourceVersion"], "1");
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_EQ(meta["namespace"], "ns");
  EXPECT_FALSE(meta["creationTimestamp"].get<std::string>().empty());
  EXPECT_EQ((*created)["kind"], "ConfigMap");
  EXPECT_EQ((*created)["apiVersion"], "v1");

  auto again = fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            "POST /api/v1/namespaces/ns/configmaps: HTTP 409 AlreadyExists: configmaps \"a\" already exists");

  auto got = fake_.get(resources::kConfigMaps, "ns", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, *created);
  auto missing = fake_.get(kFunctions, "ns", "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "GET /apis/sluice.io/v1alpha1/namespaces/ns/functions/nope: HTTP 404 NotFound: functions.sluice.io "
            "\"nope\" not found");
}

TEST_F(FakeResourceClientTest, GenerateNameMakesAUniqueName) {
  Json pod = {{"metadata", {{"generateName", "fn-"}}}, {"spec", Json::object()}};
  auto a = fake_.create(resources::kPods, "ns", pod);
  auto b = fake_.create(resources::kPods, "ns", pod);
  ASSERT_TRUE(a && b);
  std::string nameA = (*a)["metadata"]["name"], nameB = (*b)["metadata"]["name"];
  EXPECT_EQ(nameA.rfind("fn-", 0), 0u);
  EXPECT_EQ(nameA.size(), 8u);
  EXPECT_NE(nameA, nameB);
}

TEST_F(FakeResourceClientTest, StaleUpdateConflictsAndRetryOnConflictRereads) {
  auto created = fake_.create(kFunctions, "ns", {{"metadata", {{"name", "f"}}}, {"spec", {{"replicas", 1}}}});
  ASSERT_TRUE(created);
  Json stale = *created;
  // Someone else writes first.
  Json theirs = *created;
  theirs["spec"]["replicas"] = 2;
  ASSERT_TRUE(fake_.update(kFunctions, theirs));

  stale["spec"]["replicas"] = 3;
  auto conflict = fake_.update(kFunctions, stale);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_NE(conflict.status().message().find("HTTP 409 Conflict: Operation cannot be fulfilled on functions.sluice.io "
                                             "\"f\": the object has been modified"),
            std::string::npos)
      << conflict.status().message();

  int attempts = 0;
  Status status = retryOnConflict([&]() -> Status {
    ++attempts;
    Json current = attempts == 1 ? stale : *fake_.get(kFunctions, "ns", "f");
    current["spec"]["replicas"] = 3;
    return fake_.update(kFunctions, current).status();
  });
  EXPECT_TRUE(status.isOk()) << status.toString();
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ((*fake_.object(kFunctions, "ns", "f"))["spec"]["replicas"], 3);
}

TEST_F(FakeResourceClientTest, GenerationBumpsOnSpecChangesOnlyAndStatusIsASubresource) {
  auto created = fake_.create(kFunctions, "ns",
                              {{"metadata", {{"name", "f"}}}, {"spec", {{"replicas", 1}}}, {"status", {{"x", 1}}}});
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->contains("status")) << "create drops status";

  Json labelled = *created;
  labelled["metadata"]["labels"] = {{"a", "b"}};
  labelled["status"] = {{"ignored", true}};
  auto afterLabels = fake_.update(kFunctions, labelled);
  ASSERT_TRUE(afterLabels);
  EXPECT_EQ((*afterLabels)["metadata"]["generation"], 1);
  EXPECT_FALSE(afterLabels->contains("status")) << "update keeps the stored status";

  Json withStatus = *afterLabels;
  withStatus["status"] = {{"readyReplicas", 1}};
  withStatus["spec"]["replicas"] = 9;  // ignored by a status write
  auto afterStatus = fake_.updateStatus(kFunctions, withStatus);
  ASSERT_TRUE(afterStatus);
  EXPECT_EQ((*afterStatus)["status"]["readyReplicas"], 1);
  EXPECT_EQ((*afterStatus)["spec"]["replicas"], 1);
  EXPECT_EQ((*afterStatus)["metadata"]["generation"], 1);

  auto patched = fake_.patch(kFunctions, "ns", "f", PatchType::kMerge, {{"spec", {{"replicas", 4}}}});
  ASSERT_TRUE(patched);
  EXPECT_EQ((*patched)["metadata"]["generation"], 2);
  EXPECT_EQ((*patched)["status"]["readyReplicas"], 1);
  EXPECT_EQ((*patched)["metadata"]["resourceVersion"], "4");

  auto statusPatch = fake_.patch(kFunctions, "ns", "f", PatchType::kMerge, {{"status", {{"readyReplicas", 4}}}},
                                 PatchOptions{"", false, "status"});
  ASSERT_TRUE(statusPatch);
  EXPECT_EQ((*statusPatch)["status"]["readyReplicas"], 4);
  EXPECT_EQ((*statusPatch)["metadata"]["generation"], 2);
}

TEST_F(FakeResourceClientTest, PatchKinds) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a", {{"keep", "1"}, {"drop", "1"}})));
  auto merged = fake_.patch(resources::kConfigMaps, "ns", "a", PatchType::kMerge,
                            {{"metadata", {{"labels", {{"drop", nullptr}, {"new", "2"}}}}}});
  ASSERT_TRUE(merged);
  EXPECT_EQ((*merged)["metadata"]["labels"], (Json{{"keep", "1"}, {"new", "2"}}));

  auto jsonPatched = fake_.patch(resources::kConfigMaps, "ns", "a", PatchType::kJson,
                                 Json::array({{{"op", "replace"}, {"path", "/data/k"}, {"value", "w"}}}));
  ASSERT_TRUE(jsonPatched) << jsonPatched.status().toString();
  EXPECT_EQ((*jsonPatched)["data"]["k"], "w");

  auto badJson = fake_.patch(resources::kConfigMaps, "ns", "a", PatchType::kJson,
                             Json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "other"}}}));
  ASSERT_FALSE(badJson);
  EXPECT_EQ(badJson.status().code(), StatusCode::kInvalidArgument);

  auto stale = fake_.patch(resources::kConfigMaps, "ns", "a", PatchType::kMerge,
                           {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"k", "x"}}}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);

  auto missing = fake_.patch(resources::kConfigMaps, "ns", "b", PatchType::kMerge, {{"data", {{"k", "x"}}}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto noManager = fake_.apply(resources::kConfigMaps, configMap("ns", "b"), "");
  ASSERT_FALSE(noManager);
  EXPECT_EQ(noManager.status().code(), StatusCode::kInvalidArgument);
  auto applied = fake_.apply(resources::kConfigMaps, configMap("ns", "b"), "sluice");
  ASSERT_TRUE(applied) << applied.status().toString();
  EXPECT_EQ((*applied)["metadata"]["generation"], 1);
  auto reapplied = fake_.apply(
      resources::kConfigMaps, {{"metadata", {{"name", "b"}, {"namespace", "ns"}}}, {"data", {{"k2", "v2"}}}}, "sluice");
  ASSERT_TRUE(reapplied);
  EXPECT_EQ((*reapplied)["data"], (Json{{"k", "v"}, {"k2", "v2"}}));
}

TEST_F(FakeResourceClientTest, ListFiltersBySelectorsAndPages) {
  for (int i = 0; i < 7; ++i) {
    Json labels = {{"app", i % 2 ? "odd" : "even"}};
    if (i == 3) labels["tier"] = "gold";
    ASSERT_TRUE(
        fake_.create(resources::kConfigMaps, i < 6 ? "ns" : "other", configMap("", "cm" + std::to_string(i), labels)));
  }
  auto all = fake_.list(resources::kConfigMaps, "", {});
  ASSERT_TRUE(all);
  EXPECT_EQ((*all)["items"].size(), 7u);
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], "7");
  EXPECT_EQ((*all)["kind"], "ConfigMapList");

  auto selected = [&](const std::string& selector, const std::string& ns = "ns") {
    ListOptions options;
    options.labelSelector = selector;
    auto list = fake_.list(resources::kConfigMaps, ns, options);
    EXPECT_TRUE(list) << list.status().toString();
    return list ? names(*list) : std::vector<std::string>{};
  };
  EXPECT_EQ(selected("app=odd"), (std::vector<std::string>{"cm1", "cm3", "cm5"}));
  EXPECT_EQ(selected("app==odd,tier"), (std::vector<std::string>{"cm3"}));
  EXPECT_EQ(selected("app!=odd,!tier"), (std::vector<std::string>{"cm0", "cm2", "cm4"}));
  EXPECT_EQ(selected("app in (odd, even), tier notin (gold)"),
            (std::vector<std::string>{"cm0", "cm1", "cm2", "cm4", "cm5"}));
  EXPECT_EQ(selected("app=even", ""), (std::vector<std::string>{"cm0", "cm2", "cm4", "cm6"}));
  ListOptions bad;
  bad.labelSelector = "app in odd";
  auto rejected = fake_.list(resources::kConfigMaps, "ns", bad);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.status().code(), StatusCode::kInvalidArgument);

  ListOptions byName;
  byName.fieldSelector = "metadata.name=cm2";
  EXPECT_EQ(names(*fake_.list(resources::kConfigMaps, "", byName)), (std::vector<std::string>{"cm2"}));

  std::vector<std::string> paged;
  ListOptions page;
  page.limit = 4;
  int pages = 0;
  do {
    auto list = fake_.list(resources::kConfigMaps, "ns", page);
    ASSERT_TRUE(list);
    ++pages;
    for (auto& n : names(*list)) paged.push_back(n);
    page.continueToken = (*list)["metadata"].value("continue", "");
  } while (!page.continueToken.empty());
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(paged, (std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4", "cm5"}));
}

TEST_F(FakeResourceClientTest, DeleteWithPreconditionsAndFinalizers) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a")));
  DeleteOptions wrongUid;
  wrongUid.preconditionUid = "someone-else";
  Status refused = fake_.remove(resources::kConfigMaps, "ns", "a", wrongUid);
  EXPECT_EQ(refused.code(), StatusCode::kConflict);
  EXPECT_TRUE(fake_.remove(resources::kConfigMaps, "ns", "a").isOk());
  EXPECT_FALSE(fake_.object(resources::kConfigMaps, "ns", "a"));
  EXPECT_EQ(fake_.remove(resources::kConfigMaps, "ns", "a").code(), StatusCode::kNotFound);

  Json guarded = {{"metadata", {{"name", "f"}, {"finalizers", {"sluice.io/cleanup"}}}}, {"spec", Json::object()}};
  ASSERT_TRUE(fake_.create(kFunctions, "ns", guarded));
  ASSERT_TRUE(fake_.remove(kFunctions, "ns", "f").isOk());
  auto terminating = fake_.object(kFunctions, "ns", "f");
  ASSERT_TRUE(terminating);
  EXPECT_TRUE((*terminating)["metadata"].contains("deletionTimestamp"));
  auto released = fake_.patch(kFunctions, "ns", "f", PatchType::kMerge, {{"metadata", {{"finalizers", nullptr}}}});
  ASSERT_TRUE(released);
  EXPECT_FALSE(fake_.object(kFunctions, "ns", "f")) << "removing the last finalizer finishes the delete";
}

TEST_F(FakeResourceClientTest, InjectedFailuresAndRecordedCalls) {
  fake_.failNext("create", FakeResourceClient::apiStatus(500, "InternalError", "etcd is sad"), 2, "configmaps");
  auto pod = fake_.create(resources::kPods, "ns", {{"metadata", {{"name", "p"}}}});
  EXPECT_TRUE(pod) << "the failure is only for configmaps";
  for (int i = 0; i < 2; ++i) {
    auto failed = fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a"));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(failed.status().message(), "HTTP 500 InternalError: etcd is sad");
  }
  EXPECT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a")));
  EXPECT_EQ(fake_.callCount("create"), 4);
  EXPECT_EQ(fake_.callCount("create", "configmaps"), 3);
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3].name, "a");
  EXPECT_EQ(calls[3].body["data"]["k"], "v");
  fake_.clearCalls();
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(FakeResourceClientTest, WatchReplaysFromAResourceVersionAndFollowsLiveChanges) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a")));  // rv 1
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "b")));  // rv 2
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "other", configMap("other", "c")));

  std::mutex mu;
  std::vector<std::string> seen;
  Status result;
  std::jthread watcher([&](std::stop_token stop) {
    WatchOptions options;
    options.resourceVersion = "1";
    result = fake_.watch(
        resources::kConfigMaps, "ns", options,
        [&](WatchEvent&& event) {
          std::lock_guard lock(mu);
          seen.push_back(std::to_string(static_cast<int>(event.type)) + ":" +
                         event.object["metadata"]["name"].get<std::string>() + "@" +
                         event.object["metadata"]["resourceVersion"].get<std::string>());
        },
        stop);
  });
  ASSERT_TRUE(fake_.waitForWatches(1));
  ASSERT_TRUE(fake_.remove(resources::kConfigMaps, "ns", "a").isOk());  // rv 4
  fake_.endWatches(unavailable("connection reset"));
  watcher.join();
  EXPECT_EQ(result.code(), StatusCode::kUnavailable);
  EXPECT_EQ(seen, (std::vector<std::string>{"0:b@2", "2:a@4"}));

  fake_.compact();
  std::atomic<int> events{0};
  WatchOptions old;
  old.resourceVersion = "2";
  Status gone = fake_.watch(
      resources::kConfigMaps, "ns", old, [&](WatchEvent&&) { ++events; }, std::stop_token());
  EXPECT_EQ(gone.code(), StatusCode::kGone);
  EXPECT_EQ(events.load(), 0);
}

TEST_F(FakeResourceClientTest, WatchFromScratchSendsCurrentObjectsAndStopsOnRequest) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a", {{"app", "x"}})));
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "b", {{"app", "y"}})));
  std::atomic<int> added{0};
  std::atomic<int> bookmarks{0};
  std::stop_source stopper;
  Status result;
  std::thread watcher([&] {
    WatchOptions options;
    options.labelSelector = "app=x";
    result = fake_.watch(
        resources::kConfigMaps, "ns", options,
        [&](WatchEvent&& event) {
          if (event.type == WatchEventType::kAdded) ++added;
          if (event.type == WatchEventType::kBookmark) ++bookmarks;
        },
        stopper.get_token());
  });
  ASSERT_TRUE(fake_.waitForWatches(1));
  fake_.sendBookmark();
  for (int i = 0; i < 1000 && bookmarks.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  stopper.request_stop();
  watcher.join();
  EXPECT_EQ(result.code(), StatusCode::kCancelled);
  EXPECT_EQ(added.load(), 1);
  EXPECT_EQ(bookmarks.load(), 1);
}

// An Informer over the fake: initial list, live events, a dropped watch resumed
// without loss, and a 410 that forces a relist which reports the missed delete.
TEST_F(FakeResourceClientTest, InformerConvergesThroughDroppedWatchesAndGone) {
  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "a")));
  std::mutex mu;
  std::map<std::string, int> adds, updates, deletes;
  InformerOptions options;
  options.ns = "ns";
  Informer informer(fake_, resources::kConfigMaps, options, clock_);
  informer.addHandler({[&](const Json& o) {
                         std::lock_guard lock(mu);
                         ++adds[o["metadata"]["name"]];
                       },
                       [&](const Json&, const Json& o) {
                         std::lock_guard lock(mu);
                         ++updates[o["metadata"]["name"]];
                       },
                       [&](const Json& o) {
                         std::lock_guard lock(mu);
                         ++deletes[o["metadata"]["name"]];
                       }});
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_TRUE(fake_.waitForWatches(1));
  auto waitUntil = [&](const std::function<bool()>& condition) {
    for (int i = 0; i < 5000; ++i) {
      {
        std::lock_guard lock(mu);
        if (condition()) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    std::lock_guard lock(mu);
    return condition();
  };

  ASSERT_TRUE(fake_.create(resources::kConfigMaps, "ns", configMap("ns", "b")));
  ASSERT_TRUE(waitUntil([&] { return adds["b"] == 1; }));

  // The connection drops; changes made before the informer resumes still arrive, once each.
  fake_.endWatches(unavailable("connection reset"));
  ASSERT_TRUE(fake_.patch(resources::kConfigMaps, "ns", "b", PatchType::kMerge, {{"data", {{"k", "2"}}}}));
  clock_.waitForSleepers(1);
  clock_.advance(1s);  // the reflector's backoff
  ASSERT_TRUE(waitUntil([&] { return updates["b"] == 1; }));

  // While the informer is not watching, `a` is deleted and history is compacted: 410, relist, delete reported.
  ASSERT_TRUE(fake_.waitForWatches(1));
  fake_.endWatches(unavailable("connection reset"));
  clock_.waitForSleepers(1);
  ASSERT_TRUE(fake_.remove(resources::kConfigMaps, "ns", "a").isOk());
  fake_.compact();
  clock_.advance(2s);
  ASSERT_TRUE(waitUntil([&] { return deletes["a"] == 1; }));
  EXPECT_EQ(informer.relistCount(), 2);
  EXPECT_EQ(informer.cache().size(), 1u);
  std::lock_guard lock(mu);
  EXPECT_EQ(adds["a"], 1);
  EXPECT_EQ(adds["b"], 1);
  EXPECT_EQ(updates["b"], 1);
  EXPECT_EQ(updates["a"], 0);
}

}  // namespace
}  // namespace sluice::kube
