// Host-based and path-based routes, and the RouteTable over caches with a
// ReplicasOf (as --local wires it): which Functions are routable, with which
// replicas, concurrency and Trigger, and how refreshAll follows changes; over
// informers, a Trigger is routed before any handler added later hears of it.
#include "gateway/route_table.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "fakes/fake_clock.h"
#include "gateway/route.h"
#include "kube/informer.h"
#include "kube/memory/in_memory_resource_client.h"
#include "spec/resources.h"

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;

TEST(HostRouteTest, TheHostNamesFunctionAndNamespaceAndTheWholeTargetIsThePath) {
  auto route = parseRoute("orders.shop.fn.example.com", "/v1/items?id=7", "fn.example.com");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->ns, "shop");
  EXPECT_EQ(route->function, "orders");
  EXPECT_EQ(route->path, "/v1/items");
  EXPECT_EQ(route->query, "id=7");
  auto root = parseRoute("orders.shop.fn.example.com", "/", "fn.example.com");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path, "/");
  EXPECT_EQ(root->query, "");
}

TEST(HostRouteTest, ComparesWithoutCaseOrPortAndAllowsDotsInFunctionNames) {
  auto route = parseRoute("Orders.Shop.FN.Example.com:8080", "/x", "fn.example.com");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->key(), "shop/orders");
  auto withPort = parseRoute("f.ns.localtest.me:8088", "/", "localtest.me:8088");
  ASSERT_TRUE(withPort);
  EXPECT_EQ(withPort->key(), "ns/f");
  auto dotted = parseRoute("v2.orders.shop.example.com.", "/", "example.com");
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted->function, "v2.orders");
  EXPECT_EQ(dotted->ns, "shop");
}

TEST(HostRouteTest, OtherHostsFallBackToThePathForm) {
  for (const std::string host : {"gw.internal:8080", "example.com", "10.0.0.1:80", "[::1]:8080", ""}) {
    auto route = parseRoute(host, "/shop/orders/v1?a=b", "example.com");
    ASSERT_TRUE(route) << host;
    EXPECT_EQ(route->key(), "shop/orders") << host;
    EXPECT_EQ(route->path, "/v1") << host;
    EXPECT_EQ(route->query, "a=b") << host;
  }
  // No domain: the Host is never read.
  auto route = parseRoute("orders.shop.example.com", "/shop/orders", "");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->key(), "shop/orders");
  EXPECT_FALSE(parseRoute("orders.shop.example.com", "/", ""));
}

TEST(HostRouteTest, RefusesHostsUnderTheDomainThatNameNoFunction) {
  EXPECT_FALSE(parseRoute("orders.example.com", "/", "example.com"));              // no namespace
  EXPECT_FALSE(parseRoute("orders.sh_op.example.com", "/", "example.com"));        // not a namespace name
  EXPECT_FALSE(parseRoute("-orders.shop.example.com", "/", "example.com"));        // not a Function name
  EXPECT_FALSE(parseRoute("orders.shop.example.com", "no-slash", "example.com"));  // not an origin-form target
  // A suffix that is not at a label boundary is another host: the path form.
  EXPECT_FALSE(parseRoute("orders.shopexample.com", "/", "example.com"));
}

// Records forwards; never answers.
class RecordingUpstream final : public Upstream {
 public:
  void forward(const std::string& address, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)> done) override {
    addresses.push_back(address);
    held.push_back(std::move(done));
  }
  std::vector<std::string> addresses;
  std::vector<std::function<void(UpstreamResult)>> held;
};

kube::ObjectPtr object(const std::string& json) { return std::make_shared<const kube::Json>(kube::Json::parse(json)); }

class RouteTableTest : public ::testing::Test {
 protected:
  RouteTableTest()
      : dispatcher(DispatcherOptions{}, upstream, clock),
        table(dispatcher, functions, triggers,
              [this](const std::string& ns, const std::string& function) { return replicas[ns + "/" + function]; }) {}

  void addFunction(const std::string& name, int concurrency) {
    functions.upsert(object(R"({"metadata":{"namespace":"shop","name":")" + name + R"("},"spec":{"concurrency":)" +
                            std::to_string(concurrency) + "}}"));
  }
  void addTrigger(const std::string& name, const std::string& function, const std::string& kind) {
    triggers.upsert(object(R"({"metadata":{"namespace":"shop","name":")" + name +
                           R"("},"spec":{"functionRef":{"name":")" + function + R"("},")" + kind + R"(":{}}})"));
  }
  // Submits a call to `key` and returns how it ended, if it has.
  std::optional<CallEnd> submit(const std::string& key) {
    auto end = std::make_shared<std::optional<CallEnd>>();
    dispatcher.submit(key, Call{UpstreamRequest{}, [end](CallResult result) { *end = result.end; }});
    return *end;
  }

  sluice::testing::FakeClock clock;
  RecordingUpstream upstream;
  Dispatcher dispatcher;
  kube::ObjectCache functions;
  kube::ObjectCache triggers;
  std::map<std::string, std::vector<Replica>> replicas;
  RouteTable table;
};

TEST_F(RouteTableTest, AFunctionWithAnHttpTriggerIsRoutableWithItsReplicasAndConcurrency) {
  addFunction("orders", 2);
  addTrigger("orders-queue", "orders", "rabbitmq");
  addTrigger("orders-web", "orders", "http");
  addTrigger("orders-api", "orders", "http");
  replicas["shop/orders"] = {{"process 12", "127.0.0.1:4002"}, {"process 11", "127.0.0.1:4001"}};
  table.refreshAll();
  EXPECT_EQ(table.triggerOf("shop/orders"), "orders-api");  // the first http Trigger by name
  auto loads = dispatcher.loads();
  ASSERT_EQ(loads.size(), 1U);
  EXPECT_EQ(loads[0].key, "shop/orders");
  EXPECT_EQ(loads[0].replicas, 2);
  // Concurrency 2 on two replicas: four calls go out, the fifth waits.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(submit("shop/orders"));
  EXPECT_EQ(upstream.addresses.size(), 4U);
  EXPECT_EQ(std::count(upstream.addresses.begin(), upstream.addresses.end(), "127.0.0.1:4001"), 2);
  EXPECT_EQ(dispatcher.loads()[0].pending, 1);
}

TEST_F(RouteTableTest, FunctionsWithoutAnHttpTriggerAreNotRoutable) {
  addFunction("batch", 1);
  addTrigger("batch-cron", "batch", "cron");
  addTrigger("orphan-web", "missing", "http");  // its Function does not exist
  table.refreshAll();
  EXPECT_FALSE(table.triggerOf("shop/batch"));
  EXPECT_FALSE(table.triggerOf("shop/missing"));
  EXPECT_TRUE(dispatcher.loads().empty());
  EXPECT_EQ(submit("shop/batch"), CallEnd::kNotFound);
}

TEST_F(RouteTableTest, RefreshAllFollowsReplicasAndDropsFunctionsThatLostTheirRoute) {
  addFunction("orders", 1);
  addTrigger("orders-web", "orders", "http");
  table.refreshAll();
  // At zero: routable, the call waits.
  EXPECT_FALSE(submit("shop/orders"));
  EXPECT_TRUE(upstream.addresses.empty());
  EXPECT_EQ(dispatcher.loads()[0].pending, 1);
  // A replica is ready: the next refresh sends the waiting call there.
  replicas["shop/orders"] = {{"process 7", "127.0.0.1:4007"}};
  table.refreshAll();
  ASSERT_EQ(upstream.addresses, std::vector<std::string>{"127.0.0.1:4007"});
  // The Trigger goes: not routable any more, new calls are refused.
  triggers.erase("shop/orders-web");
  table.refreshAll();
  EXPECT_FALSE(table.triggerOf("shop/orders"));
  EXPECT_EQ(submit("shop/orders"), CallEnd::kNotFound);
  // Back, then the Function goes.
  addTrigger("orders-web", "orders", "http");
  table.refreshAll();
  EXPECT_EQ(table.triggerOf("shop/orders"), "orders-web");
  functions.erase("shop/orders");
  table.refreshAll();
  EXPECT_FALSE(table.triggerOf("shop/orders"));
  EXPECT_TRUE(dispatcher.loads().empty());
}

// `sluice local` logs a Function's URL when its status.url is written, which
// follows the Trigger's event: a call sent on that line must find the route.
// Here a handler added after the table stands for the FunctionController.
TEST(RouteTableInformerTest, ATriggerIsRoutedBeforeHandlersAddedLaterHearOfIt) {
  sluice::testing::FakeClock clock;
  RecordingUpstream upstream;
  Dispatcher dispatcher(DispatcherOptions{}, upstream, clock);
  kube::InMemoryResourceClient store;
  kube::Informer functions(store, spec::kFunctions, {}, realClock());
  kube::Informer triggers(store, spec::kTriggers, {}, realClock());
  RouteTable table(dispatcher, functions, triggers,
                   [](const std::string&, const std::string&) { return std::vector<Replica>{}; });
  std::mutex mu;
  std::optional<std::optional<std::string>> routedWhenHeard;
  triggers.addHandler(kube::EventHandler{[&](const kube::Json&) {
                                           std::lock_guard lock(mu);
                                           routedWhenHeard = table.triggerOf("shop/orders");
                                         },
                                         nullptr, nullptr});
  const kube::Json function = kube::Json::parse(R"({"apiVersion": "sluice.io/v1alpha1", "kind": "Function",
      "metadata": {"namespace": "shop", "name": "orders"}, "spec": {"concurrency": 1}})");
  const kube::Json trigger = kube::Json::parse(R"({"apiVersion": "sluice.io/v1alpha1", "kind": "Trigger",
      "metadata": {"namespace": "shop", "name": "orders-web"}, "spec": {"functionRef": {"name": "orders"}, "http": {}}})");
  functions.start();
  triggers.start();
  const bool functionCreated = store.create(spec::kFunctions, "shop", function).isOk();
  // The Function is in the table's cache before its Trigger comes.
  for (int i = 0; i < 500 && functions.cache().keys().empty(); ++i) std::this_thread::sleep_for(10ms);
  const bool triggerCreated = store.create(spec::kTriggers, "shop", trigger).isOk();
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (routedWhenHeard) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  // Stopped before anything returns: the handlers read the table.
  triggers.stop();
  functions.stop();
  ASSERT_TRUE(functionCreated && triggerCreated);
  ASSERT_TRUE(routedWhenHeard) << "the Trigger's event never came";
  EXPECT_EQ(*routedWhenHeard, "orders-web");
}

}  // namespace
}  // namespace sluice::gateway
