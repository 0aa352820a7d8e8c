// What the operator asks of the apiserver, by verb and resource (metrics/kube_client_metrics.h).
#include "metrics/kube_client_metrics.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

namespace sluice::metrics {
namespace {

TEST(KubeClientMetricsTest, APathNamesItsResourceAndSubresource) {
  EXPECT_EQ(apiResourceOf("/api/v1/namespaces/shop/pods"), "pods");
  EXPECT_EQ(apiResourceOf("/api/v1/namespaces/shop/pods/orders-0?dryRun=All"), "pods");
  EXPECT_EQ(apiResourceOf("/api/v1/namespaces/shop/pods/orders-0/status"), "pods/status");
  EXPECT_EQ(apiResourceOf("/apis/sluice.io/v1alpha1/namespaces/shop/functions/orders/status"), "functions/status");
  EXPECT_EQ(apiResourceOf("/apis/sluice.io/v1alpha1/functions?watch=true&resourceVersion=5"), "functions");
  EXPECT_EQ(apiResourceOf("/apis/coordination.k8s.io/v1/namespaces/sluice/leases/sluice-operator"), "leases");
  EXPECT_EQ(apiResourceOf("/api/v1/namespaces/shop"), "namespaces");
  EXPECT_EQ(apiResourceOf("/api/v1/namespaces"), "namespaces");
  EXPECT_EQ(apiResourceOf("/version"), "other");
  EXPECT_EQ(apiResourceOf("/api"), "other");
}

TEST(KubeClientMetricsTest, RequestsAreCountedByVerbAndResource) {
  auto registry = std::make_shared<prometheus::Registry>();
  KubeClientMetrics metrics(registry);
  metrics.recordRequest("POST", "/api/v1/namespaces/shop/pods");
  metrics.recordRequest("POST", "/api/v1/namespaces/shop/pods");
  metrics.recordRequest("PATCH", "/apis/sluice.io/v1alpha1/namespaces/shop/functions/orders/status");
  const std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(text.find("sluice_kube_client_requests_total{resource=\"pods\",verb=\"POST\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_kube_client_requests_total{resource=\"functions/status\",verb=\"PATCH\"} 1\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace sluice::metrics
