// EndpointAllowList: hosts, ports, wildcard domains, URLs and their default
// ports; malformed entries are refused naming them.
#include "scalers/endpoint_allow_list.h"

#include <gtest/gtest.h>

namespace sluice::scalers {
namespace {

TEST(EndpointAllowListTest, EmptyAllowsEverything) {
  EndpointAllowList list;
  EXPECT_TRUE(list.check("anything.example:1", "f").isOk());
  EXPECT_TRUE(EndpointAllowList::parse({})->empty());
}

TEST(EndpointAllowListTest, HostsPortsAndDomains) {
  auto list = EndpointAllowList::parse({"kafka.data.svc", "10.0.0.7:9092", "*.minio.svc:9000", "[fd00::1]:9093"});
  ASSERT_TRUE(list.isOk()) << list.status().toString();
  EXPECT_TRUE(list->check("kafka.data.svc:9092", "f").isOk());
  EXPECT_TRUE(list->check("KAFKA.data.svc:1", "f").isOk()) << "hosts compare case-insensitively";
  EXPECT_TRUE(list->check("10.0.0.7:9092", "f").isOk());
  EXPECT_FALSE(list->check("10.0.0.7:9093", "f").isOk()) << "another port";
  EXPECT_TRUE(list->check("http://a.minio.svc:9000/bucket", "f").isOk());
  EXPECT_FALSE(list->check("http://a.minio.svc/bucket", "f").isOk()) << "http's default port is 80";
  EXPECT_FALSE(list->check("http://minio.svc:9000", "f").isOk()) << "*.domain needs a subdomain";
  EXPECT_FALSE(list->check("http://evilminio.svc:9000", "f").isOk());
  EXPECT_TRUE(list->check("[fd00::1]:9093", "f").isOk());
  EXPECT_TRUE(list->check("amqp://user:pw@kafka.data.svc/%2f", "f").isOk()) << "user info is not the host";
  Status refused = list->check("https://user:pw@evil.example/x?y", "spec.objectStore.endpoint");
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.message(),
            "spec.objectStore.endpoint: https://evil.example is not in the operator's scaler endpoint allow-list "
            "(--scaler-endpoint-allow); the scaler does not connect to it");
}

TEST(EndpointAllowListTest, MalformedEntriesAreNamed) {
  for (const char* bad : {"a:b", "*", "k*.svc", "host:", "[::1", "a.svc/path"}) {
    auto list = EndpointAllowList::parse({bad});
    ASSERT_FALSE(list.isOk()) << bad;
    EXPECT_EQ(list.status().message(), std::string("scaler endpoint allow-list entry \"") + bad +
                                           "\": expected host, host:port or *.domain[:port]");
  }
}

}  // namespace
}  // namespace sluice::scalers
