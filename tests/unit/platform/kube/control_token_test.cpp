// ControlTokens against the fake API: the namespace Secret's keys, recreation
// with the same tokens after a deletion, rotation on the annotation and on
// schedule (the previous token kept), a new invoke master key followed; and
// HttpReplicaControl trying the previous control token when a replica started
// before a rotation answers 401, and /invoke on the data port.
#include "platform/kube/control_token.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "fakes/fake_resource_client.h"
#include "platform/kube/http_replica_control.h"

namespace sluice::platform {
namespace {

using nlohmann::json;
namespace res = kube::resources;

std::string dataOf(const json& secret, const char* key) {
  return *base64Decode(secret.value("/data"_json_pointer / key, std::string()));
}

class ControlTokensTest : public ::testing::Test {
 protected:
  json secret() { return *client.object(res::kSecrets, "ns", kControlTokenSecret); }

  testing::FakeClock clock;
  testing::FakeResourceClient client{clock};
  ControlTokens tokens{client, ControlTokensOptions{{"master-key", ""}, std::chrono::hours(24)}, clock};
};

TEST_F(ControlTokensTest, TheSecretHoldsTheControlAndTheDerivedInvokeToken) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_EQ(made->control.size(), 64u);
  EXPECT_EQ(made->invoke, invokeTokenFor("master-key", "ns"));
  EXPECT_EQ(dataOf(secret(), kControlTokenKey), made->control);
  EXPECT_EQ(dataOf(secret(), kInvokeTokenKey), made->invoke);
  EXPECT_EQ(tokens.invokeTokensFor("ns"), made->invoke) << "what the cron firer sends is what replicas accept";
  EXPECT_EQ(tokens.ensure("ns")->control, made->control);
  EXPECT_EQ(client.callCount("create", "secrets"), 1);
}

TEST_F(ControlTokensTest, ADeletedSecretComesBackWithTheTokensTheReplicasHold) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk());
  ASSERT_TRUE(client.remove(res::kSecrets, "ns", kControlTokenSecret).isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(dataOf(secret(), kControlTokenKey), made->control);
  EXPECT_EQ(dataOf(secret(), kInvokeTokenKey), made->invoke);
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(client.callCount("create", "secrets"), 2) << "nothing to do once it is back";
}

TEST_F(ControlTokensTest, TheRotateAnnotationRotatesOnceKeepingThePreviousToken) {
  const std::string first = tokens.ensure("ns")->control;
  json annotated = secret();
  annotated["metadata"]["annotations"][kRotateAnnotation] = "now";
  ASSERT_TRUE(client.update(res::kSecrets, annotated).isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  const std::string second = dataOf(secret(), kControlTokenKey);
  EXPECT_NE(second, first);
  EXPECT_EQ(second.size(), 64u);
  EXPECT_EQ(dataOf(secret(), kPreviousControlTokenKey), first);
  EXPECT_FALSE(secret()["metadata"]["annotations"].contains(kRotateAnnotation));
  EXPECT_EQ(tokens.ensure("ns")->control, second);
  EXPECT_EQ(tokens.ensure("ns")->previousControl, first);
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(dataOf(secret(), kControlTokenKey), second) << "one rotation per annotation";
}

TEST_F(ControlTokensTest, TheScheduleRotatesOncePerPeriod) {
  const std::string first = tokens.ensure("ns")->control;
  clock.advance(std::chrono::hours(23));
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(dataOf(secret(), kControlTokenKey), first);
  clock.advance(std::chrono::hours(1));
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_NE(dataOf(secret(), kControlTokenKey), first);
  EXPECT_EQ(dataOf(secret(), kPreviousControlTokenKey), first);
}

TEST_F(ControlTokensTest, ANewMasterKeyKeepsTheOldOnesTokenDuringTheRollOut) {
  ASSERT_TRUE(tokens.ensure("ns").isOk());
  ControlTokens rolled{client, ControlTokensOptions{{"new-key", "master-key"}, {}}, clock};
  ASSERT_TRUE(rolled.reconcile("ns").isOk());
  EXPECT_EQ(dataOf(secret(), kInvokeTokenKey),
            invokeTokenFor("new-key", "ns") + "," + invokeTokenFor("master-key", "ns"));
}

TEST_F(ControlTokensTest, AReplicaStartedBeforeARotationIsReachedWithThePreviousToken) {
  const std::string first = tokens.ensure("ns")->control;
  json annotated = secret();
  annotated["metadata"]["annotations"][kRotateAnnotation] = "";
  ASSERT_TRUE(client.update(res::kSecrets, annotated).isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  const std::string second = tokens.ensure("ns")->control;

  auto http = std::make_shared<testing::FakeHttpClient>();
  HttpReplicaControl control(tokens, {}, http);
  json pod = {{"metadata", {{"namespace", "ns"}, {"name", "sluice-warm-x"}}}, {"status", {{"podIP", "10.0.0.9"}}}};
  http->answer(http::Response{401, {}, "wrong bearer token\n"});
  http->answer(http::Response{200, {}, "specialized\n"});
  ASSERT_TRUE(control.specialize(pod, "{}").isOk());
  auto sent = http->requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].url, "http://10.0.0.9:8090/specialize");
  EXPECT_EQ(sent[0].headers.at(0).second, "Bearer " + second);
  EXPECT_EQ(sent[1].headers.at(0).second, "Bearer " + first);

  ASSERT_TRUE(control.invoke(pod, "nightly", "cron.tick", "").isOk());
  const http::Request invoke = http->requests().back();
  EXPECT_EQ(invoke.url, "http://10.0.0.9:8080/invoke") << "cron ticks go to the data port";
  EXPECT_EQ(invoke.headers.at(0),
            (std::pair<std::string, std::string>{"X-Sluice-Invoke-Token", invokeTokenFor("master-key", "ns")}));
}

}  // namespace
}  // namespace sluice::platform
