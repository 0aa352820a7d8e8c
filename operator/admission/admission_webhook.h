// AdmissionWebhook: serves reviewAdmission over HTTPS on the operator's
// webhook port, with a serving certificate for `dnsName` (the webhook
// Service's NAME.NAMESPACE.svc) issued by a CertificateAuthority kept in a
// Secret, so every operator replica serves a certificate of the same CA
// whichever the apiserver reaches. It keeps the caBundle of the
// ValidatingWebhookConfiguration `configuration` equal to that CA's trusted
// certificates (the current one and, after a renewal, the one it replaced),
// and renews its own certificate before it expires: every `checkEvery`
// (and at start) the CA is brought current, the certificate reissued when
// needsReissue says so, and the caBundle patched when it differs.
// Thread-safe; start() and stop() from one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "http/http_server.h"
#include "kube/resource_client.h"
#include "tls/certificate_authority.h"

namespace sluice::admission {

inline const kube::ResourceType kValidatingWebhookConfigurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false};

struct AdmissionWebhookOptions {
  std::string bindAddress;    // host:port
  std::string dnsName;        // the name the certificate carries (the apiserver checks it)
  std::string configuration;  // the ValidatingWebhookConfiguration to keep patched; "": none
  std::chrono::seconds checkEvery{30};
};

class AdmissionWebhook {
 public:
  AdmissionWebhook(AdmissionWebhookOptions options, tls::CertificateAuthority& authority, kube::ResourceClient& client);
  ~AdmissionWebhook();
  AdmissionWebhook(const AdmissionWebhook&) = delete;
  AdmissionWebhook& operator=(const AdmissionWebhook&) = delete;

  // Brings the CA current, issues the certificate, starts serving and patches
  // the caBundle once (a failed patch is logged and retried, not an error).
  Status start();
  int port() const;
  void stop();

  // One round of upkeep (what the background thread runs): renew, patch.
  Status maintain();

 private:
  Status patchCaBundle(const std::string& bundlePem);

  const AdmissionWebhookOptions options_;
  tls::CertificateAuthority& authority_;
  kube::ResourceClient& client_;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  std::string certificatePem_;  // guarded by mu_: what the server presents
  std::condition_variable stopCv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread upkeep_;
};

}  // namespace sluice::admission
