// The control CA's certificates: issuing, and the verification the operator's
// client does (name, CA, validity), on real OpenSSL objects.
#include "tls/certificates.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "fakes/fake_authority_store.h"
#include "fakes/fake_clock.h"
#include "tls/certificate_authority.h"

namespace sluice::tls {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::seconds kDay = 24h;

WallTime now() { return std::chrono::system_clock::now(); }

class CertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = makeCertificateAuthority("test CA", 365 * kDay, now());
    ASSERT_TRUE(ca.isOk()) << ca.status().toString();
    ca_ = *ca;
    auto leaf = issueServingCertificate(ca_, "sluice-replica.team-a", 90 * kDay, now());
    ASSERT_TRUE(leaf.isOk()) << leaf.status().toString();
    leaf_ = *leaf;
  }
  Credentials ca_;
  Credentials leaf_;
};

TEST_F(CertificatesTest, IssuedCertificateNamesTheReplicaAndVerifiesAgainstItsCa) {
  EXPECT_NE(leaf_.privateKeyPem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto facts = inspectCertificate(leaf_.certificatePem);
  ASSERT_TRUE(facts.isOk()) << facts.status().toString();
  EXPECT_EQ(facts->dnsNames, std::vector<std::string>{"sluice-replica.team-a"});
  const auto lifetime = std::chrono::duration_cast<std::chrono::hours>(facts->notAfter - facts->notBefore);
  EXPECT_GE(lifetime, 90 * kDay);
  EXPECT_LE(lifetime, 90 * kDay + 1h);
  EXPECT_TRUE(
      verifyServingCertificate(leaf_.certificatePem, ca_.certificatePem, "sluice-replica.team-a", now()).isOk());
}

TEST_F(CertificatesTest, AnotherNamespacesNameIsRefused) {
  Status refused = verifyServingCertificate(leaf_.certificatePem, ca_.certificatePem, "sluice-replica.team-b", now());
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("hostname mismatch"), std::string::npos) << refused.message();
}

TEST_F(CertificatesTest, AnotherCaIsRefused) {
  auto other = makeCertificateAuthority("test CA", 365 * kDay, now());
  ASSERT_TRUE(other.isOk());
  Status refused =
      verifyServingCertificate(leaf_.certificatePem, other->certificatePem, "sluice-replica.team-a", now());
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("unable to get local issuer certificate"), std::string::npos) << refused.message();
  // A bundle holding the right CA beside the wrong one verifies.
  EXPECT_TRUE(verifyServingCertificate(leaf_.certificatePem, other->certificatePem + ca_.certificatePem,
                                       "sluice-replica.team-a", now())
                  .isOk());
}

TEST_F(CertificatesTest, ExpiredAndNotYetValidCertificatesAreRefused) {
  Status expired =
      verifyServingCertificate(leaf_.certificatePem, ca_.certificatePem, "sluice-replica.team-a", now() + 91 * kDay);
  EXPECT_EQ(expired.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(expired.message().find("certificate has expired"), std::string::npos) << expired.message();
  Status early =
      verifyServingCertificate(leaf_.certificatePem, ca_.certificatePem, "sluice-replica.team-a", now() - 1h);
  EXPECT_NE(early.message().find("not yet valid"), std::string::npos) << early.message();
}

TEST_F(CertificatesTest, ALeafSignedWithoutTheCaKeyIsRefused) {
  // A self-made "CA" with the same name as the real one cannot sign for it.
  auto impostor = makeCertificateAuthority("test CA", 365 * kDay, now());
  ASSERT_TRUE(impostor.isOk());
  auto forged = issueServingCertificate(*impostor, "sluice-replica.team-a", 90 * kDay, now());
  ASSERT_TRUE(forged.isOk());
  EXPECT_EQ(verifyServingCertificate(forged->certificatePem, ca_.certificatePem, "sluice-replica.team-a", now()).code(),
            StatusCode::kPermissionDenied);
}

TEST(CertificateParsingTest, GarbageIsAnInvalidArgument) {
  EXPECT_EQ(inspectCertificate("not a certificate").status().code(), StatusCode::kInvalidArgument);
  Credentials broken{"not a certificate", "not a key"};
  EXPECT_EQ(issueServingCertificate(broken, "x", kDay, now()).status().code(), StatusCode::kInvalidArgument);
}

TEST(CertificateAuthorityTest, MadeOnceThenReusedAndRenewedBeforeALeafCouldOutliveIt) {
  testing::FakeClock clock(testing::FakeClock::TimePoint{} + 1h, now());
  testing::FakeAuthorityStore store;
  CertificateAuthority authority(store, {}, clock);
  ASSERT_TRUE(authority.ensureCurrent().isOk());
  EXPECT_EQ(store.saves, 1);
  const Credentials firstAuthority = store.stored->current;
  const std::string first = firstAuthority.certificatePem;

  // Another operator (or a restart) loads the same CA and makes none.
  CertificateAuthority again(store, {}, clock);
  ASSERT_TRUE(again.ensureCurrent().isOk());
  EXPECT_EQ(store.saves, 1);
  auto leaf = again.issue("sluice-replica.ns");
  ASSERT_TRUE(leaf.isOk());
  EXPECT_TRUE(verifyServingCertificate(leaf->certificatePem, first, "sluice-replica.ns", clock.wallNow()).isOk());
  EXPECT_FALSE(again.needsReissue(leaf->certificatePem, "sluice-replica.ns"));
  EXPECT_TRUE(again.needsReissue(leaf->certificatePem, "sluice-replica.other"));
  EXPECT_TRUE(again.needsReissue("", "sluice-replica.ns"));

  // 61 days on, the 90-day leaf has less than the 30-day margin left: reissued.
  clock.advance(61 * kDay);
  EXPECT_TRUE(again.needsReissue(leaf->certificatePem, "sluice-replica.ns"));

  // 246 days after it was made the CA has less than 90 + 30 days left: renewed, the old one still trusted.
  clock.advance(185 * kDay);
  ASSERT_TRUE(again.ensureCurrent().isOk());
  EXPECT_EQ(store.saves, 2);
  EXPECT_NE(store.stored->current.certificatePem, first);
  EXPECT_EQ(store.stored->previousCertificatePem, first);
  const std::string trusted = again.trustedPem();
  // The other operator replica reads the store again (at most a minute late) and follows the renewal.
  ASSERT_TRUE(authority.ensureCurrent().isOk());
  EXPECT_EQ(store.saves, 2) << "renewed once, not by each replica";
  EXPECT_EQ(authority.trustedPem(), trusted);
  EXPECT_NE(trusted.find(first), std::string::npos);
  EXPECT_NE(trusted.find(store.stored->current.certificatePem), std::string::npos);
  // A leaf of the old CA is still trusted (its replica stays reachable) but is replaced, whatever time it has left.
  auto oldCaLeaf = issueServingCertificate(firstAuthority, "sluice-replica.ns", 90 * kDay, clock.wallNow());
  ASSERT_TRUE(oldCaLeaf.isOk());
  EXPECT_TRUE(
      verifyServingCertificate(oldCaLeaf->certificatePem, trusted, "sluice-replica.ns", clock.wallNow()).isOk());
  EXPECT_TRUE(again.needsReissue(oldCaLeaf->certificatePem, "sluice-replica.ns"));
  auto renewed = again.issue("sluice-replica.ns");
  ASSERT_TRUE(renewed.isOk());
  EXPECT_FALSE(again.needsReissue(renewed->certificatePem, "sluice-replica.ns"));

  // Once the old CA expires it leaves the trusted bundle.
  clock.advance(120 * kDay);
  EXPECT_EQ(again.trustedPem().find(first), std::string::npos);
}

TEST(CertificateAuthorityTest, AnEmptiedStoreGetsTheCaInUseBackNotANewOne) {
  testing::FakeClock clock(testing::FakeClock::TimePoint{} + 1h, now());
  testing::FakeAuthorityStore store;
  CertificateAuthority authority(store, {}, clock);
  ASSERT_TRUE(authority.ensureCurrent().isOk());
  const AuthorityMaterial made = *store.stored;
  auto leaf = authority.issue("sluice-replica.ns");
  ASSERT_TRUE(leaf.isOk());

  store.stored.reset();  // the CA Secret deleted
  clock.advance(std::chrono::minutes(1));
  ASSERT_TRUE(authority.ensureCurrent().isOk());
  ASSERT_TRUE(store.stored.has_value());
  EXPECT_EQ(store.stored->current.certificatePem, made.current.certificatePem);
  EXPECT_EQ(store.stored->current.privateKeyPem, made.current.privateKeyPem);
  EXPECT_EQ(store.saves, 2);
  EXPECT_TRUE(authority.verify(leaf->certificatePem, "sluice-replica.ns", std::chrono::seconds(0)).isOk())
      << "replicas holding its leaves stay reachable";
}

TEST(CertificateAuthorityTest, VerifyLooksAheadAndRefusesAnotherCasLeaf) {
  testing::FakeClock clock(testing::FakeClock::TimePoint{} + 1h, now());
  testing::FakeAuthorityStore store;
  CertificateAuthority authority(store, {}, clock);
  auto leaf = authority.issue("sluice-replica.ns");
  ASSERT_TRUE(leaf.isOk());
  EXPECT_TRUE(authority.verify(leaf->certificatePem, "sluice-replica.ns", 89 * kDay).isOk());
  EXPECT_EQ(authority.verify(leaf->certificatePem, "sluice-replica.ns", 91 * kDay).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(authority.verify(leaf->certificatePem, "sluice-replica.other", 0s).code(), StatusCode::kPermissionDenied);

  testing::FakeAuthorityStore otherStore;
  CertificateAuthority other(otherStore, {}, clock);
  auto foreign = other.issue("sluice-replica.ns");
  ASSERT_TRUE(foreign.isOk());
  EXPECT_EQ(authority.verify(foreign->certificatePem, "sluice-replica.ns", 0s).code(), StatusCode::kPermissionDenied);
}

TEST(DirectoryAuthorityStoreTest, KeepsTheCaAcrossInstancesWithAPrivateKeyFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-ca-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  DirectoryAuthorityStore store(dir.string());
  auto empty = store.load();
  ASSERT_TRUE(empty.isOk());
  EXPECT_FALSE(empty->has_value());
  CertificateAuthority authority(store);
  ASSERT_TRUE(authority.ensureCurrent().isOk());
  auto mode = std::filesystem::status(dir / "ca.key").permissions();
  EXPECT_EQ(mode & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  DirectoryAuthorityStore reopened(dir.string());
  auto loaded = reopened.load();
  ASSERT_TRUE(loaded.isOk() && loaded->has_value());
  EXPECT_EQ((*loaded)->current.certificatePem, authority.trustedPem());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::tls
