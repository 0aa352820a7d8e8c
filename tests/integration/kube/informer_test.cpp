// Informers against the real kube-apiserver: convergence, resume after the
// apiserver dies and comes back, and relist after 410 Gone (etcd compaction).
// The kill/restart tests use a private apiserver on the shared etcd
// (tests/env/kube-private.sh), never the shared one.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "kube/cpprest_transport.h"
#include "kube/informer.h"
#include "kube_env.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
using testing::connectFromEnv;
using testing::eventually;
using testing::requireEnv;
using testing::runCommand;
using testing::ScopedNamespace;
using testing::uniqueName;

const char* kLabel = "sluice-informer-test";

Json configMap(const std::string& name, const std::string& value) {
  return {{"metadata", {{"name", name}, {"labels", {{kLabel, "yes"}}}}}, {"data", {{"v", value}}}};
}

InformerOptions optionsFor(const std::string& ns) {
  InformerOptions options;
  options.ns = ns;
  options.labelSelector = std::string(kLabel) + "=yes";
  options.pageSize = 25;
  options.maxBackoff = 1s;
  options.watchTimeoutSeconds = 60;
  return options;
}

// name -> resourceVersion, as the apiserver has it now.
std::map<std::string, std::string> truth(ResourceClient& client, const std::string& ns) {
  std::map<std::string, std::string> out;
  ListOptions options;
  options.labelSelector = std::string(kLabel) + "=yes";
  auto list = client.list(resources::kConfigMaps, ns, options);
  if (!list) {
    ADD_FAILURE() << list.status().toString();
    return out;
  }
  for (auto& item : (*list)["items"]) out[item["metadata"]["name"]] = item["metadata"]["resourceVersion"];
  return out;
}

std::map<std::string, std::string> cached(const Informer& informer) {
  std::map<std::string, std::string> out;
  for (auto& object : informer.cache().list()) {
    out[(*object)["metadata"]["name"]] = (*object)["metadata"]["resourceVersion"];
  }
  return out;
}

// Records what handlers saw.
struct Recorder {
  std::mutex mu;
  std::multiset<std::string> added, updated, deleted;
  EventHandler handler() {
    return EventHandler{[this](const Json& o) {
                          std::lock_guard l(mu);
                          added.insert(o["metadata"]["name"].get<std::string>());
                        },
                        [this](const Json&, const Json& o) {
                          std::lock_guard l(mu);
                          updated.insert(o["metadata"]["name"].get<std::string>());
                        },
                        [this](const Json& o) {
                          std::lock_guard l(mu);
                          deleted.insert(o["metadata"]["name"].get<std::string>());
                        }};
  }
  size_t deletedCount(const std::string& name) {
    std::lock_guard l(mu);
    return deleted.count(name);
  }
};

TEST(InformerTest, ConvergesThroughAddsUpdatesAndDeletes) {
  auto client = connectFromEnv();
  ASSERT_TRUE(client);
  ScopedNamespace ns(*client, "informer");
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(client->create(resources::kConfigMaps, ns.name(), configMap("pre-" + std::to_string(i), "0")));
  }
  Informer informer(*client, resources::kConfigMaps, optionsFor(ns.name()), realClock());
  Recorder recorder;
  informer.addHandler(recorder.handler());
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  EXPECT_EQ(informer.cache().size(), 60u);  // listed in pages of 25
  EXPECT_EQ(informer.cache().byLabel(kLabel, "yes").size(), 60u);
  EXPECT_EQ(informer.cache().byNamespace(ns.name()).size(), 60u);

  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->create(resources::kConfigMaps, ns.name(), configMap("new-" + std::to_string(i), "0")));
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client->patch(resources::kConfigMaps, ns.name(), "pre-" + std::to_string(i), PatchType::kMerge,
                              {{"data", {{"v", "1"}}}}));
  }
  for (int i = 30; i < 45; ++i) {
    ASSERT_TRUE(client->remove(resources::kConfigMaps, ns.name(), "pre-" + std::to_string(i)).isOk());
  }
  auto expected = truth(*client, ns.name());
  ASSERT_EQ(expected.size(), 65u);
  ASSERT_TRUE(eventually([&] { return cached(informer) == expected; }))
      << "cache has " << informer.cache().size() << " objects, apiserver " << expected.size();
  std::lock_guard l(recorder.mu);
  EXPECT_EQ(recorder.added.size(), 80u);
  EXPECT_EQ(recorder.deleted.size(), 15u);
  EXPECT_EQ(recorder.updated.size(), 10u);
  EXPECT_EQ(informer.relistCount(), 1);
}

// Starts (or restarts) a private apiserver and returns its KUBECONFIG.
std::string privateApiserver(const std::string& action, const std::string& name, const std::string& flags = "") {
  std::string source = SLUICE_SOURCE_DIR;
  std::string out = runCommand(source + "/tests/env/kube-private.sh " + action + " " + name + " " + flags);
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string prefix = "export KUBECONFIG=";
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return "";
}

class PrivateApiserver {
 public:
  explicit PrivateApiserver(const std::string& flags = "") : name_(uniqueName("inf")) {
    kubeconfig_ = privateApiserver("start", name_, flags);
    EXPECT_FALSE(kubeconfig_.empty()) << "kube-private.sh start printed no KUBECONFIG";
  }
  ~PrivateApiserver() { runCommand(std::string(SLUICE_SOURCE_DIR) + "/tests/env/kube-private.sh stop " + name_); }
  void kill() { runCommand(std::string(SLUICE_SOURCE_DIR) + "/tests/env/kube-private.sh kill " + name_); }
  void restart() { privateApiserver("restart", name_); }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  std::string name_;
  std::string kubeconfig_;
};

// Mutates the namespace through the shared apiserver while the private one is down.
void mutateWhileDown(ResourceClient& shared, const std::string& ns) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(shared.remove(resources::kConfigMaps, ns, "cm-" + std::to_string(i)).isOk());
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(shared.create(resources::kConfigMaps, ns, configMap("late-" + std::to_string(i), "0")));
  }
  for (int i = 10; i < 15; ++i) {
    ASSERT_TRUE(shared.patch(resources::kConfigMaps, ns, "cm-" + std::to_string(i), PatchType::kMerge,
                             {{"data", {{"v", "changed"}}}}));
  }
}

TEST(InformerRestartTest, WatchResumesAfterTheApiserverDiesAndNoDeleteIsMissed) {
  requireEnv("SLUICE_ENV_DIR");
  auto shared = connectFromEnv();
  ASSERT_TRUE(shared);
  ScopedNamespace ns(*shared, "resume");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(shared->create(resources::kConfigMaps, ns.name(), configMap("cm-" + std::to_string(i), "0")));
  }
  PrivateApiserver apiserver;
  auto privateClient = connectFromEnv(apiserver.kubeconfig());
  ASSERT_TRUE(privateClient);
  Informer informer(*privateClient, resources::kConfigMaps, optionsFor(ns.name()), realClock());
  Recorder recorder;
  informer.addHandler(recorder.handler());
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  ASSERT_EQ(informer.cache().size(), 30u);

  apiserver.kill();
  mutateWhileDown(*shared, ns.name());
  apiserver.restart();

  auto expected = truth(*shared, ns.name());
  ASSERT_EQ(expected.size(), 30u);
  ASSERT_TRUE(eventually([&] { return cached(informer) == expected; }, 90s))
      << "cache has " << informer.cache().size() << " objects";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(recorder.deletedCount("cm-" + std::to_string(i)), 1u) << i;
  EXPECT_GE(informer.watchCount(), 2);  // the first watch died with the apiserver
}

// etcd's own revision (the apiserver's resourceVersion) and a compaction up to it, over etcd's HTTP gateway.
std::string compactEtcd() {
  std::string endpoint = requireEnv("ETCD_ENDPOINT");
  if (endpoint.empty()) return "";
  ClientConfig config;
  config.server = endpoint;
  auto transport = makeCpprestTransport(config, realClock());
  if (!transport) {
    ADD_FAILURE() << transport.status().toString();
    return "";
  }
  HttpRequest range;
  range.method = "POST";
  range.pathAndQuery = "/v3/kv/range";
  range.body = R"({"key":"AA==","limit":1})";
  range.contentType = "application/json";
  auto rangeResponse = (*transport)->send(range);
  if (!rangeResponse || rangeResponse->status != 200) {
    ADD_FAILURE() << "etcd range failed";
    return "";
  }
  std::string revision = Json::parse(rangeResponse->body)["header"]["revision"].get<std::string>();
  HttpRequest compact;
  compact.method = "POST";
  compact.pathAndQuery = "/v3/kv/compaction";
  compact.body = Json{{"revision", revision}, {"physical", true}}.dump();
  compact.contentType = "application/json";
  auto compactResponse = (*transport)->send(compact);
  if (!compactResponse || compactResponse->status != 200) {
    ADD_FAILURE() << "etcd compaction failed: "
                  << (compactResponse ? compactResponse->body : compactResponse.status().toString());
  }
  return revision;
}

TEST(InformerGoneTest, CompactedResourceVersionGivesGoneThenRelistConverges) {
  requireEnv("SLUICE_ENV_DIR");
  auto shared = connectFromEnv();
  ASSERT_TRUE(shared);
  ScopedNamespace ns(*shared, "gone");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(shared->create(resources::kConfigMaps, ns.name(), configMap("cm-" + std::to_string(i), "0")));
  }
  // Without a watch cache, watches are served from etcd, so compaction shows as 410 Gone.
  PrivateApiserver apiserver("--watch-cache=false");
  auto privateClient = connectFromEnv(apiserver.kubeconfig());
  ASSERT_TRUE(privateClient);

  Informer informer(*privateClient, resources::kConfigMaps, optionsFor(ns.name()), realClock());
  Recorder recorder;
  informer.addHandler(recorder.handler());
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.waitForSync(never.get_token()));
  std::string syncedVersion = informer.lastResourceVersion();
  ASSERT_EQ(informer.cache().size(), 30u);

  apiserver.kill();
  mutateWhileDown(*shared, ns.name());
  std::string compactedAt = compactEtcd();
  ASSERT_FALSE(compactedAt.empty());
  ASSERT_GT(std::stoll(compactedAt), std::stoll(syncedVersion));
  apiserver.restart();

  // A plain watch from the old resourceVersion now fails with kGone...
  WatchOptions old;
  old.resourceVersion = syncedVersion;
  old.timeoutSeconds = 5;
  std::stop_source stop;
  Status watched = privateClient->watch(
      resources::kConfigMaps, ns.name(), old, [](WatchEvent&&) {}, stop.get_token());
  EXPECT_EQ(watched.code(), StatusCode::kGone) << watched.toString();

  // ...and the informer relists and converges, reporting the deletes it never watched.
  auto expected = truth(*shared, ns.name());
  ASSERT_TRUE(eventually([&] { return cached(informer) == expected; }, 90s))
      << "cache has " << informer.cache().size() << " objects";
  EXPECT_GE(informer.relistCount(), 2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(recorder.deletedCount("cm-" + std::to_string(i)), 1u) << i;
}

}  // namespace
}  // namespace sluice::kube
