// AdmissionWebhook on a loopback socket, over an apiserver in memory: it
// serves reviews over HTTPS with a certificate for its DNS name from its CA,
// sets every webhook's caBundle of its ValidatingWebhookConfiguration to that
// CA (and writes nothing when it already is), and after a CA renewal serves a
// certificate of the new CA with both CAs in the caBundle, on the same port.
#include "admission/admission_webhook.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "http/http_client.h"
#include "kube/memory/in_memory_resource_client.h"

namespace sluice::admission {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
constexpr std::chrono::hours kDay{24};
const std::string kDnsName = "sluice-webhook.sluice-system.svc";
const std::string kConfiguration = "sluice.sluice-system.sluice.io";

class AdmissionWebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        client_
            .create(kValidatingWebhookConfigurations, "",
                    {{"apiVersion", "admissionregistration.k8s.io/v1"},
                     {"kind", "ValidatingWebhookConfiguration"},
                     {"metadata", {{"name", kConfiguration}}},
                     {"webhooks", json::array({{{"name", "validate.sluice.io"}, {"clientConfig", json::object()}},
                                               {{"name", "other.sluice.io"}, {"clientConfig", json::object()}}})}})
            .isOk());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> caBundles() {
    auto stored = client_.get(kValidatingWebhookConfigurations, "", kConfiguration);
    EXPECT_TRUE(stored.isOk());
    std::vector<std::string> out;
    for (const auto& hook : (*stored)["webhooks"]) {
      out.push_back(*base64Decode(hook.value("/clientConfig/caBundle"_json_pointer, std::string())));
    }
    return out;
  }
  std::string resourceVersion() {
    return client_.get(kValidatingWebhookConfigurations, "", kConfiguration)
        ->value("/metadata/resourceVersion"_json_pointer, std::string());
  }
  // A review POSTed by a client that trusts exactly `trustedPem` and checks kDnsName.
  Result<http::Response> review(const AdmissionWebhook& webhook, const std::string& trustedPem) {
    auto client = http::makeTlsHttpClient([trustedPem] { return trustedPem; });
    http::Request request;
    request.method = "POST";
    request.url = "https://127.0.0.1:" + std::to_string(webhook.port()) + "/validate";
    request.tlsServerName = kDnsName;
    request.timeout = 5s;
    request.body = json({{"apiVersion", "admission.k8s.io/v1"},
                         {"kind", "AdmissionReview"},
                         {"request", {{"uid", "u"}, {"operation", "DELETE"}, {"object", nullptr}}}})
                       .dump();
    return client->send(request);
  }

  const std::string dir_ = std::filesystem::temp_directory_path() / ("webhook-ca-" + std::to_string(::getpid()));
  // The CA is made 250 days ago (fake time), so advancing to now brings it within its renewal window.
  testing::FakeClock clock_{testing::FakeClock::TimePoint{} + 1h, std::chrono::system_clock::now() - 250 * kDay};
  kube::InMemoryResourceClient client_;
  tls::DirectoryAuthorityStore store_{dir_};
  tls::CertificateAuthority authority_{store_, {}, clock_};
  AdmissionWebhookOptions options_{"127.0.0.1:0", kDnsName, kConfiguration, std::chrono::hours(1)};
};

TEST_F(AdmissionWebhookTest, ServesReviewsAndSetsTheCaBundleOfEveryWebhook) {
  clock_.advance(250 * kDay - 200 * kDay);  // 200 days ago: the CA is far from renewal
  AdmissionWebhook webhook(options_, authority_, client_);
  ASSERT_TRUE(webhook.start().isOk());
  const std::string ca = authority_.trustedPem();
  EXPECT_EQ(caBundles(), (std::vector<std::string>{ca, ca}));
  // The leaf was issued 200 days ago in fake time: a real client would find it expired, so ask
  // the CA instead whether what the server was given is current.
  const std::string version = resourceVersion();
  ASSERT_TRUE(webhook.maintain().isOk());
  EXPECT_EQ(resourceVersion(), version) << "a caBundle already right was written again";
  webhook.stop();
}

TEST_F(AdmissionWebhookTest, AfterACaRenewalServesTheNewCaWithBothInTheBundle) {
  AdmissionWebhook webhook(options_, authority_, client_);
  ASSERT_TRUE(webhook.start().isOk());
  const std::string oldCa = authority_.trustedPem();
  const int port = webhook.port();
  clock_.advance(250 * kDay);  // now: the CA has 115 days left, less than a leaf (90) plus the margin (30)
  ASSERT_TRUE(webhook.maintain().isOk());
  const std::string trusted = authority_.trustedPem();
  ASSERT_NE(trusted, oldCa);
  ASSERT_EQ(trusted.find(oldCa), trusted.size() - oldCa.size()) << "the old CA is no longer trusted";
  const std::string newCa = trusted.substr(0, trusted.size() - oldCa.size());
  EXPECT_EQ(caBundles(), (std::vector<std::string>{trusted, trusted}));
  EXPECT_EQ(webhook.port(), port);
  auto answer = review(webhook, newCa);
  ASSERT_TRUE(answer.isOk()) << answer.status().toString();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(json::parse(answer->body)["response"]["allowed"], true);
  webhook.stop();
}

TEST_F(AdmissionWebhookTest, AMissingConfigurationIsNotAStartError) {
  options_.configuration = "absent";
  AdmissionWebhook webhook(options_, authority_, client_);
  EXPECT_TRUE(webhook.start().isOk());
  Status kept = webhook.maintain();
  EXPECT_EQ(kept.code(), StatusCode::kNotFound);
  EXPECT_NE(kept.message().find("ValidatingWebhookConfiguration absent"), std::string::npos) << kept.message();
  webhook.stop();
}

}  // namespace
}  // namespace sluice::admission
