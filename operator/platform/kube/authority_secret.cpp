#include "platform/kube/authority_secret.h"

#include "api/pods.h"
#include "common/encoding.h"

namespace sluice::platform {

namespace {

constexpr const char* kCertificateKey = "ca.crt";
constexpr const char* kKeyKey = "ca.key";
constexpr const char* kPreviousCertificateKey = "previous-ca.crt";

}  // namespace

Result<std::optional<tls::AuthorityMaterial>> SecretAuthorityStore::load() {
  const std::string what = "Secret " + ns_ + "/" + name_;
  auto secret = client_.get(kube::resources::kSecrets, ns_, name_);
  if (!secret.isOk()) {
    if (secret.status().code() == StatusCode::kNotFound) {
      resourceVersion_.clear();
      return std::optional<tls::AuthorityMaterial>();
    }
    return secret.status().withContext("reading " + what);
  }
  tls::AuthorityMaterial material;
  for (auto [key, field] : {std::pair{kCertificateKey, &material.current.certificatePem},
                            std::pair{kKeyKey, &material.current.privateKeyPem},
                            std::pair{kPreviousCertificateKey, &material.previousCertificatePem}}) {
    auto value = base64Decode(secret->value("/data"_json_pointer / key, std::string()));
    if (!value.isOk()) return Status(StatusCode::kFailedPrecondition, what + ": data." + key + ": not base64");
    *field = *value;
  }
  resourceVersion_ = secret->value("/metadata/resourceVersion"_json_pointer, std::string());
  if (material.current.certificatePem.empty() || material.current.privateKeyPem.empty()) {
    return Status(StatusCode::kFailedPrecondition, what + ": needs data." + kCertificateKey + " and data." + kKeyKey);
  }
  return std::optional<tls::AuthorityMaterial>(std::move(material));
}

Status SecretAuthorityStore::save(const tls::AuthorityMaterial& material) {
  kube::Json secret = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", {{"name", name_}, {"namespace", ns_}, {"labels", {{api::kManagedByLabel, "sluice"}}}}},
      {"type", "Opaque"},
      {"data",
       {{kCertificateKey, base64Encode(material.current.certificatePem)},
        {kKeyKey, base64Encode(material.current.privateKeyPem)},
        {kPreviousCertificateKey, base64Encode(material.previousCertificatePem)}}}};
  const std::string what = "Secret " + ns_ + "/" + name_;
  const bool creating = resourceVersion_.empty();
  if (!creating) secret["metadata"]["resourceVersion"] = resourceVersion_;
  Result<kube::Json> written = creating ? client_.create(kube::resources::kSecrets, ns_, secret)
                                        : client_.update(kube::resources::kSecrets, secret);
  if (!written.isOk()) return written.status().withContext((creating ? "creating " : "updating ") + what);
  resourceVersion_ = written->value("/metadata/resourceVersion"_json_pointer, std::string());
  return Status::ok();
}

}  // namespace sluice::platform
