#include "admission/admission_webhook.h"

#include "admission/admission_review.h"
#include "common/encoding.h"
#include "common/logging.h"

namespace sluice::admission {

AdmissionWebhook::AdmissionWebhook(AdmissionWebhookOptions options, tls::CertificateAuthority& authority,
                                   kube::ResourceClient& client)
    : options_(std::move(options)), authority_(authority), client_(client) {}

AdmissionWebhook::~AdmissionWebhook() { stop(); }

Status AdmissionWebhook::start() {
  if (Status current = authority_.ensureCurrent(); !current.isOk()) return current.withContext("admission webhook CA");
  auto credentials = authority_.issue(options_.dnsName);
  if (!credentials.isOk()) return credentials.status().withContext("admission webhook certificate");
  http::HttpServerOptions serverOptions;
  serverOptions.bindAddress = options_.bindAddress;
  serverOptions.name = "admission webhook";
  serverOptions.threads = 2;
  serverOptions.tlsCertificatePem = credentials->certificatePem;
  serverOptions.tlsPrivateKeyPem = credentials->privateKeyPem;
  const auto& validator = api::v1alpha1::CrdValidator::builtin();
  server_ = std::make_unique<http::HttpServer>(serverOptions,
                                               [&validator](http::ServerRequest request, http::Responder respond) {
                                                 respond(serveAdmission(request, validator));
                                               });
  if (Status started = server_->start(); !started.isOk()) return started;
  {
    std::lock_guard lock(mu_);
    certificatePem_ = credentials->certificatePem;
  }
  if (Status patched = patchCaBundle(authority_.trustedPem()); !patched.isOk()) {
    SLUICE_LOG_WARN("admission webhook: {} (retried every {} s)", patched.message(), options_.checkEvery.count());
  }
  upkeep_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopCv_.wait_for(lock, options_.checkEvery, [this] { return stopping_; })) {
      lock.unlock();
      if (Status kept = maintain(); !kept.isOk()) SLUICE_LOG_WARN("admission webhook: {}", kept.message());
      lock.lock();
    }
  });
  return Status::ok();
}

int AdmissionWebhook::port() const { return server_ ? server_->port() : 0; }

void AdmissionWebhook::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stopCv_.notify_all();
  if (upkeep_.joinable()) upkeep_.join();
  if (server_) server_->stop(std::chrono::seconds(2));
}

Status AdmissionWebhook::maintain() {
  if (Status current = authority_.ensureCurrent(); !current.isOk()) return current.withContext("CA");
  std::string certificate;
  {
    std::lock_guard lock(mu_);
    certificate = certificatePem_;
  }
  if (authority_.needsReissue(certificate, options_.dnsName)) {
    auto credentials = authority_.issue(options_.dnsName);
    if (!credentials.isOk()) return credentials.status().withContext("renewing the certificate");
    Status replaced = server_->replaceTlsCredentials(credentials->certificatePem, credentials->privateKeyPem);
    if (!replaced.isOk()) return replaced;
    std::lock_guard lock(mu_);
    certificatePem_ = credentials->certificatePem;
    SLUICE_LOG_INFO("admission webhook: serving a renewed certificate for {}", options_.dnsName);
  }
  return patchCaBundle(authority_.trustedPem());
}

// Each webhook's clientConfig.caBundle, with a JSON patch guarded by the
// resourceVersion read (a concurrent change makes it fail and the next round
// retries). Nothing is written when every caBundle is already right.
Status AdmissionWebhook::patchCaBundle(const std::string& bundlePem) {
  if (options_.configuration.empty()) return Status::ok();
  const std::string what = "ValidatingWebhookConfiguration " + options_.configuration;
  auto configuration = client_.get(kValidatingWebhookConfigurations, "", options_.configuration);
  if (!configuration.isOk()) return configuration.status().withContext("reading " + what);
  const std::string bundle = base64Encode(bundlePem);
  kube::Json patch = kube::Json::array();
  patch.push_back({{"op", "test"},
                   {"path", "/metadata/resourceVersion"},
                   {"value", configuration->value("/metadata/resourceVersion"_json_pointer, std::string())}});
  const kube::Json webhooks = configuration->value("webhooks", kube::Json::array());
  for (size_t i = 0; i < webhooks.size(); ++i) {
    if (webhooks[i].value("/clientConfig/caBundle"_json_pointer, std::string()) == bundle) continue;
    patch.push_back(
        {{"op", "add"}, {"path", "/webhooks/" + std::to_string(i) + "/clientConfig/caBundle"}, {"value", bundle}});
  }
  if (patch.size() == 1) return Status::ok();
  auto patched =
      client_.patch(kValidatingWebhookConfigurations, "", options_.configuration, kube::PatchType::kJson, patch);
  if (!patched.isOk()) return patched.status().withContext("patching the caBundle of " + what);
  SLUICE_LOG_INFO("admission webhook: caBundle of {} set ({} webhook(s))", what, patch.size() - 1);
  return Status::ok();
}

}  // namespace sluice::admission
