// ControlTokens against the fake API: the namespace Secret's keys, recreation
// with the same tokens after a deletion, rotation on the annotation and on
// schedule (the previous token kept), a new invoke master key followed; and
// HttpReplicaControl trying the previous control token when a replica started
// before a rotation answers 401, and /invoke on the data port; with a CA, the
// namespace's serving certificate in the Secret, reissued when due, and https
// with the namespace's server name for pods that serve TLS; a rotation made by
// another replica reported to this one.
#include "platform/kube/control_token.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "api/pods.h"
#include "common/encoding.h"
#include "common/tokens.h"
#include "fakes/fake_authority_store.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "fakes/fake_resource_client.h"
#include "platform/kube/http_replica_control.h"
#include "tls/certificates.h"

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

TEST_F(ControlTokensTest, ARewrittenSecretIsReportedOnceAndAnUnchangedOneNever) {
  std::vector<std::string> changed;
  tokens.onChange([&](const std::string& ns) { changed.push_back(ns); });
  ASSERT_TRUE(tokens.ensure("ns").isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_TRUE(changed.empty()) << "made, not rewritten: no pod holds other tokens";
  clock.advance(std::chrono::hours(24));
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(changed, std::vector<std::string>{"ns"}) << "the scheduled rotation, once";
}

// A sharded operator runs the token controller on every replica: the one that did not rotate learns
// it from the Secret and rechecks its own Functions' pods, once.
TEST_F(ControlTokensTest, ARotationByAnotherReplicaIsReportedOnceToThisOne) {
  ControlTokens other{client, ControlTokensOptions{{"master-key", ""}, std::chrono::hours(24)}, clock};
  std::vector<std::string> changed;
  tokens.onChange([&](const std::string& ns) { changed.push_back(ns); });
  const std::string first = tokens.ensure("ns")->control;
  ASSERT_EQ(other.ensure("ns")->control, first) << "the second replica reads the Secret the first made";
  json annotated = secret();
  annotated["metadata"]["annotations"][kRotateAnnotation] = "";
  ASSERT_TRUE(client.update(res::kSecrets, annotated).isOk());
  ASSERT_TRUE(other.reconcile("ns").isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(changed, std::vector<std::string>{"ns"});
  EXPECT_NE(tokens.ensure("ns")->control, first) << "this replica now makes pods with the rotated token";
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

json podWith(const json& annotations) {
  return {{"metadata", {{"namespace", "ns"}, {"name", "echo-0"}, {"annotations", annotations}}}};
}

void rotate(testing::FakeResourceClient& client, ControlTokens& tokens) {
  json annotated = *client.object(res::kSecrets, "ns", kControlTokenSecret);
  annotated["metadata"]["annotations"][kRotateAnnotation] = "";
  ASSERT_TRUE(client.update(res::kSecrets, annotated).isOk());
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
}

TEST_F(ControlTokensTest, APodIsStaleOnceItsTokenIsNeitherTheCurrentNorThePreviousOne) {
  auto first = tokens.ensure("ns");
  ASSERT_TRUE(first.isOk());
  const json annotations = ControlTokens::podAnnotations(*first);
  EXPECT_EQ(annotations.value(kPodTokenIdAnnotation, ""), tokenId(first->control));
  EXPECT_EQ(tokenId(first->control).size(), 16u);
  EXPECT_EQ(annotations.dump().find(first->control), std::string::npos) << "the token itself is not on the pod";
  EXPECT_FALSE(annotations.contains(kPodCertificateAnnotation)) << "no CA, no certificate";
  const json pod = podWith(annotations);
  EXPECT_EQ(tokens.staleCredentials(pod, *first), "");

  rotate(client, tokens);
  auto second = tokens.ensure("ns");
  ASSERT_TRUE(second.isOk());
  EXPECT_EQ(tokens.staleCredentials(pod, *second), "") << "reached with the previous token";

  rotate(client, tokens);
  auto third = tokens.ensure("ns");
  ASSERT_TRUE(third.isOk());
  EXPECT_EQ(tokens.staleCredentials(pod, *third),
            "its control token (" + tokenId(first->control) + ") is neither the current nor the previous one");
  EXPECT_EQ(tokens.staleCredentials(podWith(ControlTokens::podAnnotations(*second)), *third), "");
  EXPECT_EQ(tokens.staleCredentials(podWith(json::object()), *third), "") << "a pod that does not say is left alone";
}

TEST_F(ControlTokensTest, APodIsStaleOnceCallersSendNoneOfTheInvokeTokensItAccepts) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-keys-ct-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "key") << "old-key";
  auto ring = InvokeKeyRing::open(dir.string(), clock, std::chrono::seconds(10));
  ASSERT_TRUE(ring.isOk());
  ControlTokens keyed{client, ControlTokensOptions{*ring, {}}, clock};
  auto made = keyed.ensure("ns");
  ASSERT_TRUE(made.isOk());
  const json annotations = ControlTokens::podAnnotations(*made);
  EXPECT_EQ(annotations.value(kPodInvokeTokenIdsAnnotation, ""), tokenId(invokeTokenFor("old-key", "ns")));
  const json oldPod = podWith(annotations);

  // A new key with the old one beside it: the Secret follows, and the old pod is still called.
  std::ofstream(dir / "key") << "new-key";
  std::ofstream(dir / "previous") << "old-key";
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(keyed.reconcile("ns").isOk());
  auto rolling = keyed.ensure("ns");
  ASSERT_TRUE(rolling.isOk());
  EXPECT_EQ(rolling->invoke, invokeTokenFor("new-key", "ns") + "," + invokeTokenFor("old-key", "ns"))
      << "no restart needed";
  EXPECT_EQ(keyed.staleCredentials(oldPod, *rolling), "");
  const json rollingPod = podWith(ControlTokens::podAnnotations(*rolling));

  // The old key dropped: the old pod accepts nothing callers send; one made during the roll-out does.
  std::filesystem::remove(dir / "previous");
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(keyed.reconcile("ns").isOk());
  auto after = keyed.ensure("ns");
  ASSERT_TRUE(after.isOk());
  EXPECT_EQ(after->invoke, invokeTokenFor("new-key", "ns"));
  EXPECT_EQ(keyed.staleCredentials(oldPod, *after).rfind("it accepts none of the invoke tokens", 0), 0u);
  EXPECT_EQ(keyed.staleCredentials(rollingPod, *after), "");
  std::filesystem::remove_all(dir);
}

TEST_F(ControlTokensTest, TokensMadeAnewAfterTheSecretAndTheOperatorsMemoryWereLostMakeEveryPodStale) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk());
  const json pod = podWith(ControlTokens::podAnnotations(*made));
  ASSERT_TRUE(client.remove(res::kSecrets, "ns", kControlTokenSecret).isOk());
  ControlTokens restarted{client, ControlTokensOptions{{"master-key", ""}, std::chrono::hours(24)}, clock};
  auto fresh = restarted.ensure("ns");
  ASSERT_TRUE(fresh.isOk());
  EXPECT_NE(fresh->control, made->control);
  EXPECT_NE(restarted.staleCredentials(pod, *fresh), "") << "its token is unknown now: it is replaced";
}

class ControlCertificatesTest : public ::testing::Test {
 protected:
  json secret() { return *client.object(res::kSecrets, "ns", kControlTokenSecret); }
  Status verify(const std::string& certificate, const std::string& name = "sluice-replica.ns") {
    return tls::verifyServingCertificate(certificate, authority.trustedPem(), name, clock.wallNow());
  }

  testing::FakeClock clock{testing::FakeClock::TimePoint{} + std::chrono::hours(1), std::chrono::system_clock::now()};
  testing::FakeResourceClient client{clock};
  testing::FakeAuthorityStore store;
  tls::CertificateAuthority authority{store, {}, clock};
  ControlTokens tokens{client, ControlTokensOptions{{"master-key", ""}, {}, &authority}, clock};
};

TEST_F(ControlCertificatesTest, TheSecretHoldsAServingCertificateForTheNamespaceFromTheCa) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_TRUE(tokens.issuesCertificates());
  EXPECT_EQ(dataOf(secret(), kTlsCertificateKey), made->tlsCertificate);
  EXPECT_EQ(dataOf(secret(), kTlsKeyKey), made->tlsKey);
  EXPECT_TRUE(verify(made->tlsCertificate).isOk()) << verify(made->tlsCertificate).toString();
  EXPECT_EQ(verify(made->tlsCertificate, "sluice-replica.other").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(tokens.trustedCertificates(), store.stored->current.certificatePem);
}

TEST_F(ControlCertificatesTest, ASecretMadeBeforeTheCaGetsACertificateWhenNextUsed) {
  ControlTokens plain{client, ControlTokensOptions{{"master-key", ""}, {}}, clock};
  auto before = plain.ensure("ns");
  ASSERT_TRUE(before.isOk());
  EXPECT_FALSE(plain.issuesCertificates());
  EXPECT_FALSE(secret()["data"].contains(kTlsCertificateKey));
  auto after = tokens.ensure("ns");
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_EQ(after->control, before->control) << "the tokens stay";
  EXPECT_TRUE(verify(dataOf(secret(), kTlsCertificateKey)).isOk());
}

TEST_F(ControlCertificatesTest, TheCertificateIsReissuedThirtyDaysBeforeItExpiresAndKeptOtherwise) {
  const std::string first = tokens.ensure("ns")->tlsCertificate;
  clock.advance(std::chrono::hours(24 * 59));
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  EXPECT_EQ(dataOf(secret(), kTlsCertificateKey), first) << "31 days left: kept";
  clock.advance(std::chrono::hours(24 * 2));
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  const std::string second = dataOf(secret(), kTlsCertificateKey);
  EXPECT_NE(second, first) << "29 days left: reissued";
  EXPECT_TRUE(verify(second).isOk());
  EXPECT_TRUE(verify(first).isOk()) << "replicas holding the old one stay reachable until it expires";
  EXPECT_EQ(tokens.ensure("ns")->tlsCertificate, second);
}

TEST_F(ControlCertificatesTest, APodServingTlsIsCalledOverHttpsByTheNamespacesNameOnlyOnTheControlPort) {
  ASSERT_TRUE(tokens.ensure("ns").isOk());
  auto http = std::make_shared<testing::FakeHttpClient>();
  HttpReplicaControl control(tokens, {}, http);
  json runtime = {{"name", "runtime"}, {"env", json::array({json{{"name", kControlTlsKeyEnv}}})}};
  json pod = {{"metadata", {{"namespace", "ns"}, {"name", "sluice-warm-x"}}},
              {"spec", {{"containers", json::array({runtime})}}},
              {"status", {{"podIP", "10.0.0.9"}}}};
  ASSERT_TRUE(api::controlPortServesTls(pod));
  ASSERT_TRUE(control.specialize(pod, "{}").isOk());
  ASSERT_TRUE(control.drain(pod).isOk());
  ASSERT_TRUE(control.invoke(pod, "nightly", "cron.tick", "").isOk());
  auto sent = http->requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].url, "https://10.0.0.9:8090/specialize");
  EXPECT_EQ(sent[0].tlsServerName, "sluice-replica.ns");
  EXPECT_EQ(sent[1].url, "https://10.0.0.9:8090/drain");
  EXPECT_EQ(sent[1].tlsServerName, "sluice-replica.ns");
  EXPECT_EQ(sent[2].url, "http://10.0.0.9:8080/invoke") << "the data port is plain HTTP";
  EXPECT_EQ(sent[2].tlsServerName, "");
}

TEST_F(ControlCertificatesTest, APodIsStaleOnceItsCertificateHasLessThanHalfTheRenewalMarginLeft) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk());
  const json annotations = ControlTokens::podAnnotations(*made);
  EXPECT_EQ(annotations.value(kPodCertificateAnnotation, ""), made->tlsCertificate);
  const json pod = podWith(annotations);
  EXPECT_EQ(tokens.staleCredentials(pod, *made), "");
  clock.advance(std::chrono::hours(24 * 74));  // 16 days left
  ASSERT_TRUE(tokens.reconcile("ns").isOk());
  auto reissued = tokens.ensure("ns");
  ASSERT_TRUE(reissued.isOk());
  EXPECT_NE(reissued->tlsCertificate, made->tlsCertificate);
  EXPECT_EQ(tokens.staleCredentials(pod, *reissued), "");
  clock.advance(std::chrono::hours(24 * 2));  // 14 days left: under half the 30-day margin
  const std::string why = tokens.staleCredentials(pod, *reissued);
  EXPECT_EQ(why.rfind("its control certificate will not verify: ", 0), 0u) << why;
  EXPECT_EQ(tokens.staleCredentials(podWith(ControlTokens::podAnnotations(*reissued)), *reissued), "");
}

TEST_F(ControlCertificatesTest, APodWhoseCertificateIsFromAnUntrustedCaIsStale) {
  auto made = tokens.ensure("ns");
  ASSERT_TRUE(made.isOk());
  testing::FakeAuthorityStore otherStore;
  tls::CertificateAuthority other{otherStore, {}, clock};
  auto foreign = other.issue("sluice-replica.ns");
  ASSERT_TRUE(foreign.isOk());
  NamespaceTokens held = *made;
  held.tlsCertificate = foreign->certificatePem;
  EXPECT_NE(tokens.staleCredentials(podWith(ControlTokens::podAnnotations(held)), *made), "");
}

}  // namespace
}  // namespace sluice::platform
