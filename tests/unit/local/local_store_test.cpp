// LocalStore behaves like the apiserver where the autoscaler relies on it:
// generation moves with spec only, status patches touch status only, Events go
// to the observer.
#include "local/local_store.h"

#include <gtest/gtest.h>

#include "spec/resources.h"

namespace sluice::local {
namespace {

using nlohmann::json;

json function(int maxReplicas) {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "fn"}}},
          {"spec", {{"scaling", {{"maxReplicas", maxReplicas}}}}}};
}

TEST(LocalStoreTest, GenerationMovesWithSpecAndStatusSurvivesReloads) {
  LocalStore store;
  store.put(function(3));
  auto first = store.get(spec::kFunctions, "default", "fn");
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ((*first)["metadata"]["generation"], 1);
  const json uid = (*first)["metadata"]["uid"];

  auto patched = store.patch(spec::kFunctions, "default", "fn", kube::PatchType::kMerge,
                             json{{"status", {{"desiredReplicas", 2}}}, {"spec", {{"replicas", 9}}}},
                             kube::PatchOptions{"test", false, "status"});
  ASSERT_TRUE(patched.isOk());
  EXPECT_EQ((*patched)["status"]["desiredReplicas"], 2);
  EXPECT_FALSE((*patched)["spec"].contains("replicas"));  // a status patch leaves spec alone
  EXPECT_EQ((*patched)["metadata"]["generation"], 1);

  store.put(function(3));  // the same manifest read again: nothing moves
  EXPECT_EQ(store.functions().get("default/fn")->at("metadata").at("generation"), 1);
  store.put(function(5));  // an edit: generation moves, uid and status stay
  kube::ObjectPtr edited = store.functions().get("default/fn");
  EXPECT_EQ((*edited)["metadata"]["generation"], 2);
  EXPECT_EQ((*edited)["metadata"]["uid"], uid);
  EXPECT_EQ((*edited)["status"]["desiredReplicas"], 2);

  store.erase("Function", "default/fn");
  EXPECT_EQ(store.get(spec::kFunctions, "default", "fn").status().code(), StatusCode::kNotFound);
}

TEST(LocalStoreTest, EventsGoToTheObserverAndSecretsAreNotFound) {
  std::vector<json> seen;
  LocalStore store([&](const json& event) { seen.push_back(event); });
  ASSERT_TRUE(store.create(kube::resources::kEvents, "default", json{{"reason", "ScaledUp"}}).isOk());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["reason"], "ScaledUp");
  EXPECT_EQ(store.get(kube::resources::kSecrets, "default", "creds").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::local
