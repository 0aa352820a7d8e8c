#include "tls/certificates.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace sluice::tls {

namespace {

template <auto free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    free(p);
  }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;

// The reason OpenSSL left on this thread's error queue, which it empties.
std::string openSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Status failure(const std::string& what) { return internalError(what + ": " + openSslError()); }

Result<Key> newKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return failure("making an ECDSA P-256 key");
  return key;
}

Result<std::string> keyPem(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return failure("writing a private key");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Result<std::string> certificatePem(X509* certificate) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), certificate) != 1) return failure("writing a certificate");
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Result<Certificate> readCertificate(const std::string& pem) {
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Certificate certificate(in ? PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!certificate) return Status(StatusCode::kInvalidArgument, "not a PEM certificate: " + openSslError());
  return certificate;
}

Result<Key> readKey(const std::string& pem) {
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Status(StatusCode::kInvalidArgument, "not a PEM private key: " + openSslError());
  return key;
}

Status addExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return failure(std::string("making extension ") + OBJ_nid2sn(nid));
  const int added = X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
  return added == 1 ? Status::ok() : failure(std::string("adding extension ") + OBJ_nid2sn(nid));
}

// A certificate for `key` named `commonName`, valid from a minute before `now` for `validity`, with a random
// serial; its issuer and signature are the caller's.
Result<Certificate> newCertificate(EVP_PKEY* key, const std::string& commonName, std::chrono::seconds validity,
                                   WallTime now) {
  Certificate certificate(X509_new());
  if (!certificate) return failure("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return failure("a random serial number");
  serial[0] &= 0x7f;  // positive
  BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
  ASN1_INTEGER* asn1Serial = number ? BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate.get())) : nullptr;
  BN_free(number);
  if (asn1Serial == nullptr) return failure("setting the serial number");
  const time_t start = std::chrono::system_clock::to_time_t(now - std::chrono::minutes(1));
  const time_t end = std::chrono::system_clock::to_time_t(now + validity);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  if (X509_set_version(certificate.get(), 2) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(certificate.get()), start) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate.get()), end) == nullptr ||
      X509_set_pubkey(certificate.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(commonName.c_str()),
                                 -1, -1, 0) != 1) {
    return failure("filling in a certificate");
  }
  return certificate;
}

Result<Credentials> sign(X509* certificate, EVP_PKEY* signer, EVP_PKEY* key) {
  if (X509_sign(certificate, signer, EVP_sha256()) == 0) return failure("signing a certificate");
  auto certificateText = certificatePem(certificate);
  if (!certificateText.isOk()) return certificateText.status();
  auto keyText = keyPem(key);
  if (!keyText.isOk()) return keyText.status();
  return Credentials{*certificateText, *keyText};
}

WallTime wallTimeOf(const ASN1_TIME* time) {
  struct tm broken {};
  ASN1_TIME_to_tm(time, &broken);
  return std::chrono::system_clock::from_time_t(timegm(&broken));
}

}  // namespace

Result<Credentials> makeCertificateAuthority(const std::string& commonName, std::chrono::seconds validity,
                                             WallTime now) {
  auto key = newKey();
  if (!key.isOk()) return key.status();
  auto certificate = newCertificate(key->get(), commonName, validity, now);
  if (!certificate.isOk()) return certificate.status();
  X509* self = certificate->get();
  if (X509_set_issuer_name(self, X509_get_subject_name(self)) != 1) return failure("setting the issuer");
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
        std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"}, std::pair{NID_subject_key_identifier, "hash"}}) {
    if (Status added = addExtension(self, self, nid, value); !added.isOk()) return added;
  }
  return sign(self, key->get(), key->get());
}

Result<Credentials> issueServingCertificate(const Credentials& authority, const std::string& dnsName,
                                            std::chrono::seconds validity, WallTime now) {
  auto issuer = readCertificate(authority.certificatePem);
  if (!issuer.isOk()) return issuer.status().withContext("the CA certificate");
  auto issuerKey = readKey(authority.privateKeyPem);
  if (!issuerKey.isOk()) return issuerKey.status().withContext("the CA key");
  auto key = newKey();
  if (!key.isOk()) return key.status();
  auto certificate = newCertificate(key->get(), dnsName, validity, now);
  if (!certificate.isOk()) return certificate.status();
  X509* leaf = certificate->get();
  if (X509_set_issuer_name(leaf, X509_get_subject_name(issuer->get())) != 1) return failure("setting the issuer");
  const std::string alternativeName = "DNS:" + dnsName;
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:FALSE"}, std::pair{NID_key_usage, "critical,digitalSignature"},
        std::pair{NID_ext_key_usage, "serverAuth"}, std::pair{NID_authority_key_identifier, "keyid:always"},
        std::pair{NID_subject_alt_name, alternativeName.c_str()}}) {
    if (Status added = addExtension(leaf, issuer->get(), nid, value); !added.isOk()) return added;
  }
  return sign(leaf, issuerKey->get(), key->get());
}

Result<CertificateFacts> inspectCertificate(const std::string& pem) {
  auto certificate = readCertificate(pem);
  if (!certificate.isOk()) return certificate.status();
  CertificateFacts facts;
  facts.notBefore = wallTimeOf(X509_get0_notBefore(certificate->get()));
  facts.notAfter = wallTimeOf(X509_get0_notAfter(certificate->get()));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate->get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* text = name->d.dNSName;
    facts.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                                static_cast<size_t>(ASN1_STRING_length(text)));
  }
  GENERAL_NAMES_free(names);
  return facts;
}

Status verifyServingCertificate(const std::string& certificatePem, const std::string& trustedPem,
                                const std::string& dnsName, WallTime at) {
  auto certificate = readCertificate(certificatePem);
  if (!certificate.isOk()) return certificate.status();
  Store store(X509_STORE_new());
  Bio in(BIO_new_mem_buf(trustedPem.data(), static_cast<int>(trustedPem.size())));
  int trusted = 0;
  while (store && in) {
    Certificate next(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!next) break;
    if (X509_STORE_add_cert(store.get(), next.get()) == 1) ++trusted;
  }
  ERR_clear_error();  // the end of the bundle
  if (trusted == 0) return invalidArgument("no trusted certificate in the bundle");
  StoreContext context(X509_STORE_CTX_new());
  if (!context || X509_STORE_CTX_init(context.get(), store.get(), certificate->get(), nullptr) != 1) {
    return failure("preparing a verification");
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set_time(parameters, std::chrono::system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(parameters, X509_PURPOSE_SSL_SERVER);
  if (X509_VERIFY_PARAM_set1_host(parameters, dnsName.c_str(), dnsName.size()) != 1) {
    return failure("setting the expected name");
  }
  if (X509_verify_cert(context.get()) != 1) {
    return Status(
        StatusCode::kPermissionDenied,
        std::string("certificate refused: ") + X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get())));
  }
  return Status::ok();
}

}  // namespace sluice::tls
