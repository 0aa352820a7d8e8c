// triggersOf: a Function's Triggers (same namespace, spec.functionRef.name), by name.
#include "spec/function_triggers.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace sluice::spec {
namespace {

kube::ObjectPtr trigger(const std::string& ns, const std::string& name, const std::string& function) {
  return std::make_shared<const kube::Json>(
      kube::Json{{"metadata", {{"namespace", ns}, {"name", name}}}, {"spec", {{"functionRef", {{"name", function}}}}}});
}

std::vector<std::string> names(const std::vector<kube::ObjectPtr>& triggers) {
  std::vector<std::string> out;
  for (const kube::ObjectPtr& t : triggers) out.push_back((*t)["metadata"]["name"]);
  return out;
}

TEST(TriggersOfTest, ReturnsTheFunctionsTriggersByNameWhateverTheOrderTheyCameIn) {
  kube::ObjectCache cache;
  for (const char* name : {"z-http", "b-kafka", "a-cron", "b-kafka-2"}) cache.upsert(trigger("shop", name, "orders"));
  cache.upsert(trigger("shop", "a-other", "invoices"));     // another Function
  cache.upsert(trigger("other", "a-same-name", "orders"));  // the same name in another namespace
  EXPECT_EQ(names(triggersOf(cache, "shop", "orders")),
            (std::vector<std::string>{"a-cron", "b-kafka", "b-kafka-2", "z-http"}));
  // Changes after the index is built keep the order.
  cache.upsert(trigger("shop", "m-rabbit", "orders"));
  cache.erase("shop/b-kafka");
  EXPECT_EQ(names(triggersOf(cache, "shop", "orders")),
            (std::vector<std::string>{"a-cron", "b-kafka-2", "m-rabbit", "z-http"}));
  EXPECT_EQ(names(triggersOf(cache, "other", "orders")), (std::vector<std::string>{"a-same-name"}));
}

}  // namespace
}  // namespace sluice::spec
