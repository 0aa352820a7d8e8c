// CertificateAuthority: the operator's private CA for the replicas' control
// port (docs/trust.md). It issues each namespace's serving certificate and is
// what the operator's control client trusts. The CA (key and certificate) is
// kept in an AuthorityStore — a Secret in the operator's namespace, or a
// directory for --local and tests — made on first use and reused across
// restarts; a store found emptied (its Secret deleted) gets the CA in use
// back. It is renewed once less than a leaf lifetime plus the renewal
// margin is left, so no leaf outlives its CA; the certificate it replaces
// stays trusted (until it expires) so replicas holding leaves it signed stay
// reachable. Every operator replica reads the store again at most 10 s
// after its last read, so a new leader follows a renewal. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "tls/certificates.h"

namespace sluice::tls {

// The CA as stored: the current key and certificate, and the certificate it replaced ("" when none).
struct AuthorityMaterial {
  Credentials current;
  std::string previousCertificatePem;
};

class AuthorityStore {
 public:
  virtual ~AuthorityStore() = default;
  // What is stored; nullopt when nothing is yet.
  virtual Result<std::optional<AuthorityMaterial>> load() = 0;
  virtual Status save(const AuthorityMaterial& material) = 0;
};

// DIR/ca.crt, DIR/ca.key (mode 0600) and DIR/previous-ca.crt; DIR is made when missing.
class DirectoryAuthorityStore final : public AuthorityStore {
 public:
  explicit DirectoryAuthorityStore(std::string directory) : directory_(std::move(directory)) {}
  Result<std::optional<AuthorityMaterial>> load() override;
  Status save(const AuthorityMaterial& material) override;

 private:
  const std::string directory_;
};

struct CertificateAuthorityOptions {
  std::string commonName = "sluice control CA";
  std::chrono::seconds authorityValidity = std::chrono::hours(24 * 365);
  std::chrono::seconds leafValidity = std::chrono::hours(24 * 90);
  // A leaf with less than this left is reissued; a CA with less than this plus a leaf lifetime is renewed.
  std::chrono::seconds renewBefore = std::chrono::hours(24 * 30);
  // ensureCurrent() reads the store again after this long, so an operator
  // that becomes leader follows a CA another replica renewed, and an emptied
  // store is refilled (one GET per period: the token controller asks every 10 s).
  std::chrono::seconds reloadEvery = std::chrono::seconds(10);
};

class CertificateAuthority {
 public:
  CertificateAuthority(AuthorityStore& store, CertificateAuthorityOptions options = {}, Clock& clock = realClock())
      : store_(store), options_(std::move(options)), clock_(clock) {}

  // Loads the CA (making and storing one when there is none) and renews it when due.
  Status ensureCurrent();
  // The certificates a client trusts: the current CA's and the previous one's while it is valid.
  std::string trustedPem() const;
  // A serving certificate for `dnsName` under the current CA.
  Result<Credentials> issue(const std::string& dnsName);
  // True when `certificatePem` is not a current-CA certificate for `dnsName` with more than renewBefore left.
  bool needsReissue(const std::string& certificatePem, const std::string& dnsName) const;
  // OK when `certificatePem` chains to a CA trusted now (trustedPem), names `dnsName` and is still
  // valid `ahead` from now; else kPermissionDenied saying why.
  Status verify(const std::string& certificatePem, const std::string& dnsName, std::chrono::seconds ahead) const;
  std::chrono::seconds renewBefore() const { return options_.renewBefore; }

 private:
  Status ensureCurrentLocked();
  Status ensureCurrentOnce();

  AuthorityStore& store_;
  const CertificateAuthorityOptions options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::optional<AuthorityMaterial> material_;  // guarded by mu_
  std::optional<Clock::TimePoint> loadedAt_;   // guarded by mu_
};

}  // namespace sluice::tls
