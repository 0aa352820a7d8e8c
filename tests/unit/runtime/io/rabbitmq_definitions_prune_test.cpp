// A RabbitMQ mirror's definitions sync against an in-memory management API:
// what `prune` deletes from the target (only what the source had and lost,
// a queue only once it is empty there) and what it never touches.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/sinks/rabbitmq_definitions_sync.h"

namespace sluice::runtime {
namespace {

using nlohmann::json;

constexpr const char* kBase = "http://guest:guest@broker:15672";

std::string percentDecoded(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Two vhosts of one broker, "a" (source) and "b" (target), as the management
// API's definitions, queue, exchange and binding endpoints show them.
class FakeManagementApi final : public http::HttpClient {
 public:
  FakeManagementApi() {
    for (const char* vhost : {"a", "b"}) {
      vhosts[vhost] = {{"queues", json::array()}, {"exchanges", json::array()}, {"bindings", json::array()}};
    }
  }

  Result<http::Response> send(const http::Request& request) override {
    const std::string prefix = std::string(kBase) + "/api/";
    std::string path = request.url.substr(prefix.size());
    requests.push_back(request.method + " " + path);
    if (request.method == "GET" && path.rfind("definitions/", 0) == 0) return ok(vhosts[path.substr(12)].dump());
    if (request.method == "POST" && path.rfind("definitions/", 0) == 0) return import(path.substr(12), request.body);
    if (request.method == "DELETE" && path.rfind("queues/b/", 0) == 0) return deleteQueue(path.substr(9));
    if (request.method == "DELETE" && path.rfind("exchanges/b/", 0) == 0) {
      return erase("exchanges", [&](const json& e) { return e["name"] == path.substr(12); });
    }
    if (path.rfind("bindings/b/e/", 0) == 0) return binding(request.method, path.substr(13));
    return http::Response{400, {}, "unexpected " + request.method + " " + path};
  }

  static json queue(const std::string& name) { return {{"name", name}, {"durable", true}, {"arguments", {}}}; }
  static json exchange(const std::string& name) { return {{"name", name}, {"type", "topic"}, {"arguments", {}}}; }
  static json bindingOf(const std::string& source, const std::string& queue, const std::string& key) {
    return {{"source", source},
            {"destination", queue},
            {"destination_type", "queue"},
            {"routing_key", key},
            {"arguments", json::object()}};
  }
  std::vector<std::string> names(const std::string& vhost, const std::string& kind) {
    std::vector<std::string> out;
    for (const json& e : vhosts[vhost][kind]) {
      out.push_back(kind == "bindings" ? e["source"].get<std::string>() + "->" + e["destination"].get<std::string>()
                                       : e["name"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::map<std::string, json> vhosts;
  std::set<std::string> nonEmptyOnTarget;  // queues of b holding messages
  std::vector<std::string> requests;       // "METHOD path", in order

 private:
  static http::Response ok(std::string body = "") { return http::Response{200, {}, std::move(body)}; }

  http::Response import(const std::string& vhost, const std::string& body) {
    json incoming = json::parse(body);
    for (const char* kind : {"queues", "exchanges", "bindings"}) {
      for (const json& entry : incoming[kind]) {
        json& list = vhosts[vhost][kind];
        if (std::find(list.begin(), list.end(), entry) == list.end()) list.push_back(entry);
      }
    }
    return ok();
  }

  template <typename Match>
  http::Response erase(const std::string& kind, Match match) {
    json& list = vhosts["b"][kind];
    const size_t before = list.size();
    json kept = json::array();
    for (const json& e : list) {
      if (!match(e)) kept.push_back(e);
    }
    list = kept;
    return http::Response{before == list.size() ? 404 : 204, {}, ""};
  }

  http::Response deleteQueue(const std::string& rest) {
    const std::string name = rest.substr(0, rest.find('?'));
    if (rest.find("if-empty=true") == std::string::npos) return http::Response{400, {}, "prune must ask if-empty"};
    if (nonEmptyOnTarget.contains(name)) return http::Response{400, {}, R"({"reason":"queue not empty"})"};
    (void)erase("bindings", [&](const json& e) { return e["destination"] == name; });
    return erase("queues", [&](const json& e) { return e["name"] == name; });
  }

  // "<source>/q/<queue>" lists (with each binding's properties key), "<...>/<key>" deletes.
  http::Response binding(const std::string& method, const std::string& rest) {
    const std::string source = rest.substr(0, rest.find('/'));
    std::string queue = rest.substr(source.size() + 3);
    std::string key;
    if (method == "DELETE") {
      key = percentDecoded(queue.substr(queue.find('/') + 1));
      queue = queue.substr(0, queue.find('/'));
      return erase("bindings", [&](const json& e) {
        return e["source"] == source && e["destination"] == queue && e["routing_key"] == key;
      });
    }
    json list = json::array();
    for (json e : vhosts["b"]["bindings"]) {
      if (e["source"] != source || e["destination"] != queue) continue;
      e["properties_key"] = e["routing_key"];
      e["vhost"] = "b";
      list.push_back(e);
    }
    return ok(list.dump());
  }
};

RabbitMqDefinitionsSyncOptions options(bool prune) {
  RabbitMqDefinitionsSyncOptions o{kBase,
                                   "a",
                                   kBase,
                                   "b",
                                   {"shop", "orders", "audit", "legacy"},
                                   "",
                                   std::chrono::hours(1)};  // rounds run by syncOnce only
  o.prune = prune;
  return o;
}

// Source: exchange shop routing to queues orders and audit. The target also
// has a selected queue of its own (legacy) that the source never had.
std::shared_ptr<FakeManagementApi> brokers() {
  auto api = std::make_shared<FakeManagementApi>();
  api->vhosts["a"]["queues"] = {FakeManagementApi::queue("orders"), FakeManagementApi::queue("audit")};
  api->vhosts["a"]["exchanges"] = {FakeManagementApi::exchange("shop")};
  api->vhosts["a"]["bindings"] = {FakeManagementApi::bindingOf("shop", "orders", "order.*"),
                                  FakeManagementApi::bindingOf("shop", "audit", "#")};
  api->vhosts["b"]["queues"] = {FakeManagementApi::queue("legacy")};
  return api;
}

// A person deletes queues orders and audit on the source (their bindings go with them).
void deleteQueuesOnSource(FakeManagementApi& api) {
  api.vhosts["a"]["queues"] = json::array();
  api.vhosts["a"]["bindings"] = json::array();
}

TEST(RabbitMqDefinitionsPruneTest, DeletionsOnTheSourceFollowOnlyWithPruneAndAQueueOnlyOnceEmpty) {
  auto api = brokers();
  auto sync = RabbitMqDefinitionsSync::create(options(true), api);
  ASSERT_TRUE(sync.isOk()) << sync.status().toString();
  EXPECT_EQ(api->names("b", "queues"), (std::vector<std::string>{"audit", "legacy", "orders"}));
  deleteQueuesOnSource(*api);
  api->nonEmptyOnTarget = {"audit"};  // copies a failover would read

  auto round = (*sync)->syncOnce();
  ASSERT_TRUE(round.isOk()) << round.status().toString();
  EXPECT_EQ(round->pruned, 3u);  // both bindings and queue orders
  EXPECT_EQ(api->names("b", "queues"), (std::vector<std::string>{"audit", "legacy"}));
  EXPECT_EQ(api->names("b", "exchanges"), std::vector<std::string>{"shop"});  // still on the source
  EXPECT_TRUE(api->names("b", "bindings").empty());

  // Once its copies are consumed on the target, the next round takes audit too; legacy, never on the source, stays.
  api->nonEmptyOnTarget.clear();
  round = (*sync)->syncOnce();
  ASSERT_TRUE(round.isOk()) << round.status().toString();
  EXPECT_EQ(round->pruned, 1u);
  EXPECT_EQ(api->names("b", "queues"), std::vector<std::string>{"legacy"});
  round = (*sync)->syncOnce();
  EXPECT_EQ(round->pruned, 0u);
}

TEST(RabbitMqDefinitionsPruneTest, WithoutPruneNothingIsEverDeletedFromTheTarget) {
  auto api = brokers();
  auto sync = RabbitMqDefinitionsSync::create(options(false), api);
  ASSERT_TRUE(sync.isOk()) << sync.status().toString();
  deleteQueuesOnSource(*api);
  api->vhosts["a"]["exchanges"] = json::array();
  auto round = (*sync)->syncOnce();
  ASSERT_TRUE(round.isOk()) << round.status().toString();
  EXPECT_EQ(round->pruned, 0u);
  EXPECT_EQ(api->names("b", "queues"), (std::vector<std::string>{"audit", "legacy", "orders"}));
  EXPECT_EQ(api->names("b", "bindings"), (std::vector<std::string>{"shop->audit", "shop->orders"}));
  for (const std::string& request : api->requests) EXPECT_NE(request.rfind("DELETE", 0), 0u) << request;
}

// A mirror (re)started against a source rebuilt empty has seen nothing there:
// it must not take the target, the copy a failback needs, down with it.
TEST(RabbitMqDefinitionsPruneTest, AMirrorStartedOnAnEmptySourceDeletesNothing) {
  auto api = brokers();
  ASSERT_TRUE(RabbitMqDefinitionsSync::create(options(true), api).isOk());  // the first mirror, gone
  deleteQueuesOnSource(*api);
  api->vhosts["a"]["exchanges"] = json::array();
  auto restarted = RabbitMqDefinitionsSync::create(options(true), api);
  ASSERT_TRUE(restarted.isOk()) << restarted.status().toString();
  auto round = (*restarted)->syncOnce();
  ASSERT_TRUE(round.isOk());
  EXPECT_EQ(round->pruned, 0u);
  EXPECT_EQ(api->names("b", "queues"), (std::vector<std::string>{"audit", "legacy", "orders"}));
  EXPECT_EQ(api->names("b", "exchanges"), std::vector<std::string>{"shop"});
}

}  // namespace
}  // namespace sluice::runtime
