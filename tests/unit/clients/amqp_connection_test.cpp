// AmqpConnection's TLS settings are checked before any connection is tried:
// material that would go unused, a CA that holds no certificate, a client
// certificate without its key. No broker is needed (port 9 is never dialled).
#include "clients/amqp_connection.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sluice::clients
