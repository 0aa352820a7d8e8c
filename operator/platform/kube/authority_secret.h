// SecretAuthorityStore: the operator's control CA (tls::CertificateAuthority)
// kept in a Secret of the operator's own namespace (keys ca.crt, ca.key,
// previous-ca.crt), so every operator replica and restart uses the same CA.
// Only the operator reads it; replicas never see the CA key. A save that
// races another operator's is kAlreadyExists/kConflict (the CA reloads).
// Thread-compatible (the CertificateAuthority serializes its calls).
#pragma once

#include <string>

#include "kube/resource_client.h"
#include "tls/certificate_authority.h"

namespace sluice::platform {

class SecretAuthorityStore final : public tls::AuthorityStore {
 public:
  SecretAuthorityStore(kube::ResourceClient& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  Result<std::optional<tls::AuthorityMaterial>> load() override;
  Status save(const tls::AuthorityMaterial& material) override;

 private:
  kube::ResourceClient& client_;
  const std::string ns_;
  const std::string name_;
  std::string resourceVersion_;  // of the Secret last read or written; "" when none
};

}  // namespace sluice::platform
