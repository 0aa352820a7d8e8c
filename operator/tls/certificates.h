// X.509 certificates for the operator's private CA (docs/trust.md): making a
// CA, issuing a serving certificate under it, and checking a serving
// certificate the way a TLS client does. Keys are ECDSA P-256, signatures
// SHA-256, everything PEM. The operator calls replicas by pod IP, which is
// unknown when a certificate is issued, so a serving certificate names a DNS
// name (sluice-replica.<namespace>) that the client verifies instead of the
// address. Pure functions over OpenSSL; any thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::tls {

using WallTime = std::chrono::system_clock::time_point;

// A certificate and its private key, PEM.
struct Credentials {
  std::string certificatePem;
  std::string privateKeyPem;
};

// A self-signed CA certificate (CN `commonName`, CA:TRUE, keyCertSign) valid
// from `now` (less a minute, for clocks slightly behind) for `validity`.
Result<Credentials> makeCertificateAuthority(const std::string& commonName, std::chrono::seconds validity,
                                             WallTime now);

// A serving certificate (serverAuth, SAN DNS:`dnsName`) signed by `authority`.
Result<Credentials> issueServingCertificate(const Credentials& authority, const std::string& dnsName,
                                            std::chrono::seconds validity, WallTime now);

struct CertificateFacts {
  WallTime notBefore;
  WallTime notAfter;
  std::vector<std::string> dnsNames;  // the subjectAltName DNS entries
};

// The first certificate of `pem`.
Result<CertificateFacts> inspectCertificate(const std::string& pem);

// OK when the first certificate of `certificatePem` chains to one of the
// certificates in `trustedPem` (a bundle), is valid at `at` and names
// `dnsName`; else kPermissionDenied saying why (OpenSSL's verdict).
Status verifyServingCertificate(const std::string& certificatePem, const std::string& trustedPem,
                                const std::string& dnsName, WallTime at);

}  // namespace sluice::tls
