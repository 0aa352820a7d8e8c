// AmqpConnection's TLS settings are checked before any connection is tried:
// material that would go unused, a CA that holds no certificate, a client
// certificate without its key. No broker is needed (port 9 is never dialled).
#include "clients/amqp_connection.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tls/certificates.h"

namespace sluice::clients {
namespace {

TEST(AmqpConnectionTest, TlsMaterialForAPlainUrlIsRefusedNamingTheUrlWithoutThePassword) {
  AmqpConnection connection;
  Status status = connection.open("amqp://user:secret@127.0.0.1:9/%2f", 30, AmqpTls{"ca", "", ""});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "rabbitmq amqp://127.0.0.1:9/%2f: TLS certificates are given but the URL is amqp://, not amqps://");
  EXPECT_FALSE(connection.isOpen());
}

TEST(AmqpConnectionTest, ACaWithoutACertificateIsRefused) {
  AmqpConnection connection;
  Status status = connection.open("amqps://user:secret@127.0.0.1:9/%2f", 30, AmqpTls{"not a PEM", "", ""});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "rabbitmq amqps://127.0.0.1:9/%2f: the TLS CA holds no PEM certificate");
}

TEST(AmqpConnectionTest, AClientCertificateNeedsItsKey) {
  AmqpConnection connection;
  Status status = connection.open("amqps://127.0.0.1:9/%2f", 30, AmqpTls{"", "a certificate", ""});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "rabbitmq amqps://127.0.0.1:9/%2f: a TLS client certificate needs its key, and a key its certificate");
  status = connection.open("amqps://127.0.0.1:9/%2f", 30, AmqpTls{"", "not a PEM", "nor this"});
  EXPECT_EQ(status.message(), "rabbitmq amqps://127.0.0.1:9/%2f: the TLS client certificate is not a PEM certificate");
}

// A client certificate with its own key is taken (the failure is then the connect to a closed
// port); with another key it is refused before connecting.
TEST(AmqpConnectionTest, AClientCertificateIsTakenOnlyWithItsOwnKey) {
  const auto now = std::chrono::system_clock::now();
  auto authority = tls::makeCertificateAuthority("test CA", std::chrono::hours(1), now);
  ASSERT_TRUE(authority.isOk());
  auto client = tls::issueServingCertificate(*authority, "client", std::chrono::hours(1), now);
  ASSERT_TRUE(client.isOk());
  AmqpConnection connection;
  Status status = connection.open("amqps://127.0.0.1:9/%2f", 30,
                                  AmqpTls{authority->certificatePem, client->certificatePem, client->privateKeyPem});
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.toString();
  EXPECT_EQ(status.message().rfind("rabbitmq amqps://127.0.0.1:9/%2f: connect: ", 0), 0u) << status.toString();
  status = connection.open("amqps://127.0.0.1:9/%2f", 30,
                           AmqpTls{authority->certificatePem, client->certificatePem, authority->privateKeyPem});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "rabbitmq amqps://127.0.0.1:9/%2f: the TLS client key does not belong to the client certificate");
}

}  // namespace
}  // namespace sluice::clients
