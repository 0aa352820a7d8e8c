// The Kubernetes client against the real kube-apiserver of tests/env.
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "kube/api_error.h"
#include "kube/retry.h"
#include "kube_env.h"

namespace sluice::kube {
namespace {

using testing::connectFromEnv;
using testing::eventually;
using testing::ScopedNamespace;
using testing::uniqueName;

ListOptions selector(const std::string& labels) {
  ListOptions options;
  options.labelSelector = labels;
  return options;
}

// A throwaway CRD per test run: group "<unique>.sluice-test.io", kind Widget, with a status subresource.
class CustomResourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = connectFromEnv();
    ASSERT_TRUE(client_);
    group_ = uniqueName("g") + ".sluice-test.io";
    widgets_ = ResourceType{group_, "v1", "widgets", "Widget", true};
    Json crd = {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", "widgets." + group_}}},
        {"spec",
         {{"group", group_},
          {"scope", "Namespaced"},
          {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}, {"listKind", "WidgetList"}}},
          {"versions",
           Json::array({{{"name", "v1"},
                         {"served", true},
                         {"storage", true},
                         {"subresources", {{"status", Json::object()}}},
                         {"schema",
                          {{"openAPIV3Schema",
                            {{"type", "object"},
                             {"properties",
                              {{"spec", {{"type", "object"}, {"properties", {{"size", {{"type", "integer"}}}}}}},
                               {"status",
                                {{"type", "object"}, {"properties", {{"ready", {{"type", "boolean"}}}}}}}}}}}}}}})}}}};
    auto created = client_->create(resources::kCustomResourceDefinitions, "", crd);
    ASSERT_TRUE(created) << created.status().toString();
    // Established, and the new resource actually served.
    ASSERT_TRUE(eventually([&] {
      auto got = client_->list(widgets_, "default", {});
      return got.isOk();
    })) << "CRD widgets."
        << group_ << " never became served";
    ns_ = std::make_unique<ScopedNamespace>(*client_, "crud");
  }

  void TearDown() override {
    ns_.reset();
    if (client_) (void)client_->remove(resources::kCustomResourceDefinitions, "", "widgets." + group_);
  }

  std::shared_ptr<ResourceClient> client_;
  std::string group_;
  ResourceType widgets_;
  std::unique_ptr<ScopedNamespace> ns_;
};

TEST_F(CustomResourceTest, CreateReadUpdateStatusDelete) {
  const std::string ns = ns_->name();
  Json widget = {{"apiVersion", widgets_.apiVersion()},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w1"}, {"namespace", ns}, {"labels", {{"app", "demo"}}}}},
                 {"spec", {{"size", 3}}}};
  auto created = client_->create(widgets_, ns, widget);
  ASSERT_TRUE(created) << created.status().toString();
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());

  auto duplicate = client_->create(widgets_, ns, widget);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(apiErrorReason(duplicate.status()), "AlreadyExists");

  auto got = client_->get(widgets_, ns, "w1");
  ASSERT_TRUE(got) << got.status().toString();
  EXPECT_EQ((*got)["spec"]["size"], 3);

  Json changed = *got;
  changed["spec"]["size"] = 5;
  auto updated = client_->update(widgets_, changed);
  ASSERT_TRUE(updated) << updated.status().toString();
  EXPECT_EQ((*updated)["spec"]["size"], 5);

  Json withStatus = *updated;
  withStatus["status"] = {{"ready", true}};
  withStatus["spec"]["size"] = 99;  // ignored by a status write
  auto statusWritten = client_->updateStatus(widgets_, withStatus);
  ASSERT_TRUE(statusWritten) << statusWritten.status().toString();
  auto reread = client_->get(widgets_, ns, "w1");
  ASSERT_TRUE(reread);
  EXPECT_EQ((*reread)["status"]["ready"], true);
  EXPECT_EQ((*reread)["spec"]["size"], 5);

  auto merged = client_->patch(widgets_, ns, "w1", PatchType::kMerge, {{"spec", {{"size", 7}}}});
  ASSERT_TRUE(merged) << merged.status().toString();
  EXPECT_EQ((*merged)["spec"]["size"], 7);
  auto jsonPatched = client_->patch(widgets_, ns, "w1", PatchType::kJson,
                                    Json::array({{{"op", "replace"}, {"path", "/spec/size"}, {"value", 8}}}));
  ASSERT_TRUE(jsonPatched) << jsonPatched.status().toString();
  EXPECT_EQ((*jsonPatched)["spec"]["size"], 8);

  auto listed = client_->list(widgets_, ns, selector("app=demo"));
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)["items"].size(), 1u);
  auto none = client_->list(widgets_, ns, selector("app=other"));
  ASSERT_TRUE(none);
  EXPECT_EQ((*none)["items"].size(), 0u);

  ASSERT_TRUE(client_->remove(widgets_, ns, "w1", DeleteOptions{"Foreground", "", ""}).isOk());
  ASSERT_TRUE(eventually([&] { return client_->get(widgets_, ns, "w1").status().code() == StatusCode::kNotFound; }));
  auto missing = client_->get(widgets_, ns, "w1");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("HTTP 404 NotFound: widgets." + group_ + " \"w1\" not found"),
            std::string::npos)
      << missing.status().message();
}

TEST_F(CustomResourceTest, StaleUpdateGetsConflictAndIsRetriedByReReading) {
  const std::string ns = ns_->name();
  Json widget = {{"apiVersion", widgets_.apiVersion()},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w2"}, {"namespace", ns}}},
                 {"spec", {{"size", 1}}}};
  auto created = client_->create(widgets_, ns, widget);
  ASSERT_TRUE(created) << created.status().toString();
  Json stale = *created;
  // Someone else writes first.
  Json other = *created;
  other["spec"]["size"] = 2;
  ASSERT_TRUE(client_->update(widgets_, other));

  stale["spec"]["size"] = 10;
  auto conflict = client_->update(widgets_, stale);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(apiErrorReason(conflict.status()), "Conflict");
  EXPECT_NE(conflict.status().message().find("the object has been modified"), std::string::npos)
      << conflict.status().message();

  // Read-modify-write: the first attempt uses the stale copy, the second re-reads.
  int attempts = 0;
  Status status = retryOnConflict([&]() -> Status {
    Json base = stale;
    if (attempts++ > 0) {
      auto fresh = client_->get(widgets_, ns, "w2");
      if (!fresh) return fresh.status();
      base = *fresh;
    }
    base["spec"]["size"] = base["spec"]["size"].get<int>() + 10;
    return client_->update(widgets_, base).status();
  });
  ASSERT_TRUE(status.isOk()) << status.toString();
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ((*client_->get(widgets_, ns, "w2"))["spec"]["size"], 12);  // 2 (other writer) + 10
}

TEST(ServerSideApplyTest, ConflictingManagerIsRefusedUntilItForces) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  ScopedNamespace ns(*client, "apply");
  Json config = {{"metadata", {{"name", "cfg"}, {"namespace", ns.name()}}}, {"data", {{"color", "blue"}}}};
  auto first = client->apply(resources::kConfigMaps, config, "team-a");
  ASSERT_TRUE(first) << first.status().toString();
  EXPECT_EQ((*first)["data"]["color"], "blue");

  Json mine = {{"metadata", {{"name", "cfg"}, {"namespace", ns.name()}}}, {"data", {{"color", "red"}}}};
  auto conflict = client->apply(resources::kConfigMaps, mine, "team-b");
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_NE(conflict.status().message().find("conflict with \"team-a\""), std::string::npos)
      << conflict.status().message();
  EXPECT_NE(conflict.status().message().find(".data.color"), std::string::npos) << conflict.status().message();

  auto forced = client->apply(resources::kConfigMaps, mine, "team-b", /*force=*/true);
  ASSERT_TRUE(forced) << forced.status().toString();
  EXPECT_EQ((*forced)["data"]["color"], "red");
  std::set<std::string> ownersOfColor;
  for (auto& entry : (*forced)["metadata"]["managedFields"]) {
    if (entry.contains("fieldsV1") && entry["fieldsV1"].contains("f:data") &&
        entry["fieldsV1"]["f:data"].contains("f:color")) {
      ownersOfColor.insert(entry["manager"].get<std::string>());
    }
  }
  EXPECT_EQ(ownersOfColor, std::set<std::string>{"team-b"});

  // team-a applying its old value again now conflicts with team-b.
  auto again = client->apply(resources::kConfigMaps, config, "team-a");
  ASSERT_FALSE(again);
  EXPECT_NE(again.status().message().find("conflict with \"team-b\""), std::string::npos) << again.status().message();
}

TEST(PagingTest, ThousandObjectsListedInPagesWithNothingMissingOrRepeated) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  ScopedNamespace ns(*client, "paging");
  constexpr int kObjects = 1000;
  std::vector<std::jthread> writers;
  writers.reserve(8);
  std::atomic<int> failures{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kObjects; i += 8) {
        Json cm = {{"metadata", {{"name", "cm-" + std::to_string(i)}}}, {"data", {{"i", std::to_string(i)}}}};
        if (!client->create(resources::kConfigMaps, ns.name(), cm)) ++failures;
      }
    });
  }
  writers.clear();
  ASSERT_EQ(failures.load(), 0);

  std::set<std::string> seen;
  int pages = 0;
  int duplicates = 0;
  ListOptions options;
  options.limit = 100;
  do {
    auto page = client->list(resources::kConfigMaps, ns.name(), options);
    ASSERT_TRUE(page) << page.status().toString();
    ++pages;
    EXPECT_LE((*page)["items"].size(), 100u);
    for (auto& item : (*page)["items"]) {
      std::string name = item["metadata"]["name"];
      if (name.rfind("cm-", 0) != 0) continue;  // kube-root-ca.crt lives in every namespace
      if (!seen.insert(name).second) ++duplicates;
    }
    options.continueToken = (*page)["metadata"].value("continue", "");
  } while (!options.continueToken.empty());
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kObjects));
  EXPECT_GE(pages, 10);
  for (int i = 0; i < kObjects; ++i) EXPECT_TRUE(seen.count("cm-" + std::to_string(i))) << i;
}

TEST(ApiErrorTest, MissingNamespaceAndInvalidObjectCarryTheApiMessage) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  auto invalid = client->create(resources::kConfigMaps, "default", {{"metadata", {{"name", "Not_Valid"}}}});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(apiErrorReason(invalid.status()), "Invalid");
  EXPECT_NE(invalid.status().message().find("metadata.name: Invalid value: \"Not_Valid\""), std::string::npos)
      << invalid.status().message();
}

}  // namespace
}  // namespace sluice::kube
