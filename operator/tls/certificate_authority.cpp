#include "tls/certificate_authority.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/logging.h"

namespace sluice::tls {

namespace {

Result<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return notFound("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status writeFile(const std::filesystem::path& path, const std::string& text, std::filesystem::perms mode) {
  const std::filesystem::path staged = path.string() + ".new";
  {
    std::ofstream out(staged, std::ios::trunc);
    if (!out) return unavailable("cannot write " + staged.string());
    std::error_code ignored;
    std::filesystem::permissions(staged, mode, ignored);
    out << text;
    if (!out.flush()) return unavailable("cannot write " + staged.string());
  }
  std::error_code error;
  std::filesystem::rename(staged, path, error);  // a reader never sees half a key
  if (error) return unavailable("cannot rename " + staged.string() + ": " + error.message());
  return Status::ok();
}

}  // namespace

Result<std::optional<AuthorityMaterial>> DirectoryAuthorityStore::load() {
  const std::filesystem::path dir(directory_);
  auto certificate = readFile(dir / "ca.crt");
  auto key = readFile(dir / "ca.key");
  if (!certificate.isOk() && !key.isOk()) return std::optional<AuthorityMaterial>();
  if (!certificate.isOk()) return certificate.status();
  if (!key.isOk()) return key.status();
  AuthorityMaterial material{{*certificate, *key}, ""};
  if (auto previous = readFile(dir / "previous-ca.crt"); previous.isOk()) material.previousCertificatePem = *previous;
  return std::optional<AuthorityMaterial>(std::move(material));
}

Status DirectoryAuthorityStore::save(const AuthorityMaterial& material) {
  const std::filesystem::path dir(directory_);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return unavailable("cannot make " + directory_ + ": " + error.message());
  using std::filesystem::perms;
  const perms secret = perms::owner_read | perms::owner_write;
  const perms shown = secret | perms::group_read | perms::others_read;
  for (auto [name, text, mode] : {std::tuple{"ca.key", &material.current.privateKeyPem, secret},
                                  std::tuple{"ca.crt", &material.current.certificatePem, shown},
                                  std::tuple{"previous-ca.crt", &material.previousCertificatePem, shown}}) {
    if (Status written = writeFile(dir / name, *text, mode); !written.isOk()) return written;
  }
  return Status::ok();
}

Status CertificateAuthority::ensureCurrent() {
  std::lock_guard lock(mu_);
  return ensureCurrentLocked();
}

Status CertificateAuthority::ensureCurrentLocked() {
  Status status = ensureCurrentOnce();
  if (status.code() == StatusCode::kAlreadyExists || status.code() == StatusCode::kConflict) {
    // Another operator stored a CA first: use it.
    material_.reset();
    status = ensureCurrentOnce();
  }
  return status;
}

Status CertificateAuthority::ensureCurrentOnce() {
  if (!material_ || !loadedAt_ || clock_.now() - *loadedAt_ >= options_.reloadEvery) {
    auto stored = store_.load();
    if (!stored.isOk()) return stored.status().withContext("loading the control CA");
    if (!*stored && material_) {
      // The store was emptied (its Secret deleted): every replica's certificate chains to the CA in
      // hand, so that one is stored again; a new CA would leave them all unreachable.
      if (Status saved = store_.save(*material_); !saved.isOk()) return saved.withContext("storing the control CA");
      SLUICE_LOG_WARN("the control CA's store was emptied: stored the CA in use again");
    } else {
      material_ = *stored;
    }
    loadedAt_ = clock_.now();
  }
  const WallTime now = clock_.wallNow();
  if (material_) {
    auto facts = inspectCertificate(material_->current.certificatePem);
    if (!facts.isOk()) return facts.status().withContext("the stored control CA");
    if (facts->notAfter - now > options_.leafValidity + options_.renewBefore) return Status::ok();
  }
  auto made = makeCertificateAuthority(options_.commonName, options_.authorityValidity, now);
  if (!made.isOk()) return made.status();
  AuthorityMaterial next{*made, material_ ? material_->current.certificatePem : ""};
  if (Status saved = store_.save(next); !saved.isOk()) return saved.withContext("storing the control CA");
  SLUICE_LOG_INFO("{} {}", options_.commonName,
                  material_ ? "renewed (the previous one stays trusted until it expires)" : "made");
  material_ = std::move(next);
  loadedAt_ = clock_.now();
  return Status::ok();
}

std::string CertificateAuthority::trustedPem() const {
  std::lock_guard lock(mu_);
  if (!material_) return "";
  std::string bundle = material_->current.certificatePem;
  const std::string& previous = material_->previousCertificatePem;
  if (auto facts = inspectCertificate(previous); facts.isOk() && facts->notAfter > clock_.wallNow()) {
    bundle += previous;
  }
  return bundle;
}

Result<Credentials> CertificateAuthority::issue(const std::string& dnsName) {
  std::lock_guard lock(mu_);
  if (Status current = ensureCurrentLocked(); !current.isOk()) return current;
  return issueServingCertificate(material_->current, dnsName, options_.leafValidity, clock_.wallNow());
}

Status CertificateAuthority::verify(const std::string& certificatePem, const std::string& dnsName,
                                    std::chrono::seconds ahead) const {
  return verifyServingCertificate(certificatePem, trustedPem(), dnsName, clock_.wallNow() + ahead);
}

bool CertificateAuthority::needsReissue(const std::string& certificatePem, const std::string& dnsName) const {
  std::lock_guard lock(mu_);
  if (!material_ || certificatePem.empty()) return true;
  return !verifyServingCertificate(certificatePem, material_->current.certificatePem, dnsName,
                                   clock_.wallNow() + options_.renewBefore)
              .isOk();
}

}  // namespace sluice::tls
