// AsyncTargets: a Trigger's spec.http.async resolved once and shared while the
// Trigger and its Secret's time to live stay the same, over the in-memory
// FakeResourceClient and a real Informer.
#include "gateway/async_targets.h"

#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "spec/resources.h"

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;
using testing::FakeResourceClient;

class AsyncTargetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    putTrigger("orders-async");
    fake_.put(kube::resources::kSecrets, Json{{"apiVersion", "v1"},
                                              {"kind", "Secret"},
                                              {"metadata", {{"name", "rabbit"}, {"namespace", "shop"}}},
                                              {"data", {{"url", "YW1xcDovL2Jyb2tlcg=="}}}});  // amqp://broker
    kube::InformerOptions options;
    options.ns = "shop";
    informer_.emplace(fake_, spec::kTriggers, options, clock_);
    informer_->start();
    std::stop_source never;
    ASSERT_TRUE(informer_->waitForSync(never.get_token()));
    targets_.emplace(*informer_, fake_, clock_, 10s);
  }

  void putTrigger(const std::string& queue) {
    fake_.put(spec::kTriggers,
              Json{{"apiVersion", "sluice.io/v1alpha1"},
                   {"kind", "Trigger"},
                   {"metadata", {{"name", "orders-http"}, {"namespace", "shop"}}},
                   {"spec",
                    {{"functionRef", {{"name", "orders"}}},
                     {"http",
                      {{"async",
                        {{"rabbitmq",
                          {{"queue", queue}, {"connectionSecretRef", {{"name", "rabbit"}, {"key", "url"}}}}}}}}}}}});
  }
  int secretReads() { return fake_.callCount("get", "secrets"); }
  // Waits until the informer's cache holds the Trigger with `queue`.
  bool cacheHolds(const std::string& queue) {
    for (int i = 0; i < 1000; ++i) {
      kube::ObjectPtr object = informer_->cache().get("shop/orders-http");
      if (object && (*object)["spec"]["http"]["async"]["rabbitmq"]["queue"] == queue) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  FakeClock clock_;
  FakeResourceClient fake_{clock_};
  std::optional<kube::Informer> informer_;
  std::optional<AsyncTargets> targets_;
};

TEST_F(AsyncTargetsTest, ResolvesOnceAndSharesTheTargetWhileTheTriggerStaysTheSame) {
  auto first = targets_->lookup("shop", "orders-http");
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ((*first)->amqpUrl, "amqp://broker");
  EXPECT_EQ((*first)->queue, "orders-async");
  auto second = targets_->lookup("shop", "orders-http");
  ASSERT_TRUE(second.isOk());
  EXPECT_EQ(second->get(), first->get()) << "the second call resolved the Trigger again";
  EXPECT_EQ(secretReads(), 1);
}

TEST_F(AsyncTargetsTest, AnEditedTriggerIsResolvedAgain) {
  ASSERT_TRUE(targets_->lookup("shop", "orders-http").isOk());
  putTrigger("orders-async-2");
  ASSERT_TRUE(cacheHolds("orders-async-2"));
  auto target = targets_->lookup("shop", "orders-http");
  ASSERT_TRUE(target.isOk());
  EXPECT_EQ((*target)->queue, "orders-async-2");
}

TEST_F(AsyncTargetsTest, TheSecretIsReadAgainAfterItsTimeToLive) {
  ASSERT_TRUE(targets_->lookup("shop", "orders-http").isOk());
  clock_.advance(9s);
  ASSERT_TRUE(targets_->lookup("shop", "orders-http").isOk());
  EXPECT_EQ(secretReads(), 1);
  clock_.advance(2s);
  ASSERT_TRUE(targets_->lookup("shop", "orders-http").isOk());
  EXPECT_EQ(secretReads(), 2);
}

TEST_F(AsyncTargetsTest, AMissingSecretIsAnErrorNamingTheFieldAndIsNotKept) {
  fake_.put(kube::resources::kSecrets, Json{{"apiVersion", "v1"},
                                            {"kind", "Secret"},
                                            {"metadata", {{"name", "rabbit"}, {"namespace", "shop"}}},
                                            {"data", Json::object()}});
  auto target = targets_->lookup("shop", "orders-http");
  ASSERT_FALSE(target.isOk());
  EXPECT_NE(target.status().message().find("spec.http.async.rabbitmq.connectionSecretRef"), std::string::npos)
      << target.status().message();
  EXPECT_NE(target.status().message().find("has no key url"), std::string::npos) << target.status().message();
  EXPECT_FALSE(targets_->lookup("shop", "orders-http").isOk());
  EXPECT_EQ(secretReads(), 2) << "a failed resolution was kept";
}

TEST_F(AsyncTargetsTest, ATriggerWithoutAsyncIsNull) {
  fake_.put(spec::kTriggers, Json{{"apiVersion", "sluice.io/v1alpha1"},
                                  {"kind", "Trigger"},
                                  {"metadata", {{"name", "plain"}, {"namespace", "shop"}}},
                                  {"spec", {{"functionRef", {{"name", "orders"}}}, {"http", Json::object()}}}});
  for (int i = 0; i < 1000 && !informer_->cache().get("shop/plain"); ++i) std::this_thread::sleep_for(5ms);
  auto target = targets_->lookup("shop", "plain");
  ASSERT_TRUE(target.isOk()) << target.status().toString();
  EXPECT_EQ(*target, nullptr);
}

}  // namespace
}  // namespace sluice::gateway
