// HttpServer serving HTTPS and the TLS client (makeTlsHttpClient) on a real
// loopback socket, with certificates of a test CA: the client reaches the
// server only when the certificate chains to the CA it trusts, names the
// expected server name (not the address called) and is in its validity.
#include <gtest/gtest.h>

#include "http/http_client.h"
#include "http/http_server.h"
#include "tls/certificates.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::seconds kDay = 24h;
const std::string kName = "sluice-replica.team-a";

// The TLS handshake failed on the client's verification: nothing was sent.
void expectCertificateRefused(const Result<Response>& answer) {
  EXPECT_EQ(answer.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(answer.status().message().find("certificate verify failed"), std::string::npos)
      << answer.status().message();
}

tls::Credentials authority() {
  auto ca = tls::makeCertificateAuthority("test CA", 365 * kDay, std::chrono::system_clock::now());
  EXPECT_TRUE(ca.isOk()) << ca.status().toString();
  return *ca;
}

class TlsTest : public ::testing::Test {
 protected:
  void serve(const tls::Credentials& leaf) {
    HttpServerOptions options;
    options.tlsCertificatePem = leaf.certificatePem;
    options.tlsPrivateKeyPem = leaf.privateKeyPem;
    server_ = std::make_unique<HttpServer>(options, [](ServerRequest request, Responder respond) {
      respond(textResponse(200, request.method + " " + request.target + " " + request.body));
    });
    ASSERT_TRUE(server_->start().isOk());
  }
  Result<Response> post(HttpClient& client, const std::string& scheme, const std::string& serverName) {
    Request request;
    request.method = "POST";
    request.url = scheme + "://127.0.0.1:" + std::to_string(server_->port()) + "/specialize";
    request.body = "hello";
    request.timeout = 5s;
    request.tlsServerName = serverName;
    return client.send(request);
  }
  tls::Credentials leaf(const tls::Credentials& ca, const std::string& name, std::chrono::seconds validity = 90 * kDay,
                        std::chrono::system_clock::time_point from = std::chrono::system_clock::now()) {
    auto issued = tls::issueServingCertificate(ca, name, validity, from);
    EXPECT_TRUE(issued.isOk()) << issued.status().toString();
    return *issued;
  }

  std::shared_ptr<HttpClient> trustingCa() {
    return makeTlsHttpClient([this] { return ca_.certificatePem; });
  }

  tls::Credentials ca_ = authority();
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsTest, AClientTrustingTheCaReachesTheServerByTheNameItsCertificateCarries) {
  serve(leaf(ca_, kName));
  auto client = makeTlsHttpClient([this] { return ca_.certificatePem; });
  auto answer = post(*client, "https", kName);
  ASSERT_TRUE(answer.isOk()) << answer.status().toString();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "POST /specialize hello");
  // Several requests, each on its own connection, reuse the client's context.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(post(*client, "https", kName).isOk());
}

TEST_F(TlsTest, AnotherNameIsRefusedBeforeAnyRequestIsSent) {
  serve(leaf(ca_, kName));
  auto client = makeTlsHttpClient([this] { return ca_.certificatePem; });
  auto answer = post(*client, "https", "sluice-replica.team-b");
  expectCertificateRefused(answer);
  // Without a server name the address is checked, which no certificate of the CA names.
  EXPECT_FALSE(post(*client, "https", "").isOk());
}

TEST_F(TlsTest, AServerWithACertificateOfAnotherCaIsRefused) {
  tls::Credentials other = authority();
  serve(leaf(other, kName));
  expectCertificateRefused(post(*trustingCa(), "https", kName));
}

TEST_F(TlsTest, AnExpiredCertificateIsRefused) {
  serve(leaf(ca_, kName, kDay, std::chrono::system_clock::now() - 10 * kDay));
  expectCertificateRefused(post(*trustingCa(), "https", kName));
}

TEST_F(TlsTest, PlainHttpToTheTlsServerGetsNoAnswer) {
  serve(leaf(ca_, kName));
  auto client = makeTlsHttpClient([this] { return ca_.certificatePem; });
  auto answer = post(*client, "http", "");
  EXPECT_FALSE(answer.isOk()) << answer->status << " " << answer->body;
  EXPECT_EQ(server_->requestsInHandler(), 0u);
}

TEST_F(TlsTest, TheClientFollowsARenewedCa) {
  serve(leaf(ca_, kName));
  std::string trusted = authority().certificatePem;  // not the server's CA yet
  auto client = makeTlsHttpClient([&trusted] { return trusted; });
  EXPECT_FALSE(post(*client, "https", kName).isOk());
  trusted += ca_.certificatePem;  // a bundle: the other CA and the server's
  EXPECT_TRUE(post(*client, "https", kName).isOk());
}

TEST_F(TlsTest, RenewedCredentialsServeNewConnectionsWithoutARestart) {
  serve(leaf(ca_, kName));
  const int port = server_->port();
  tls::Credentials renewedCa = authority();
  auto oldTrust = makeTlsHttpClient([this] { return ca_.certificatePem; });
  auto newTrust = makeTlsHttpClient([&renewedCa] { return renewedCa.certificatePem; });
  ASSERT_TRUE(post(*oldTrust, "https", kName).isOk());
  tls::Credentials renewed = leaf(renewedCa, kName);
  ASSERT_TRUE(server_->replaceTlsCredentials(renewed.certificatePem, renewed.privateKeyPem).isOk());
  EXPECT_EQ(server_->port(), port);
  auto answer = post(*newTrust, "https", kName);
  ASSERT_TRUE(answer.isOk()) << answer.status().toString();
  EXPECT_EQ(answer->status, 200);
  expectCertificateRefused(post(*oldTrust, "https", kName));
  // A key that is not PEM leaves the served pair as it was.
  EXPECT_EQ(server_->replaceTlsCredentials(renewed.certificatePem, "not a key").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(post(*newTrust, "https", kName).isOk());
}

TEST_F(TlsTest, APlainServerTakesNoCredentials) {
  HttpServer server({}, [](ServerRequest, Responder respond) { respond(textResponse(200, "")); });
  ASSERT_TRUE(server.start().isOk());
  tls::Credentials pair = leaf(ca_, kName);
  EXPECT_EQ(server.replaceTlsCredentials(pair.certificatePem, pair.privateKeyPem).code(),
            StatusCode::kFailedPrecondition);
  server.stop();
}

TEST_F(TlsTest, ACertificateWithoutItsKeyIsRefusedAtStart) {
  HttpServerOptions options;
  options.tlsCertificatePem = leaf(ca_, kName).certificatePem;
  HttpServer server(options, [](ServerRequest, Responder respond) { respond(textResponse(200, "")); });
  Status started = server.start();
  EXPECT_EQ(started.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(started.message().find("both a certificate and its key"), std::string::npos) << started.message();
}

}  // namespace
}  // namespace sluice::http
