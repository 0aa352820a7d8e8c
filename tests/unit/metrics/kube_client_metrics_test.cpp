// What the operator asks of the apiserver, by verb and resource (metrics/kube_client_metrics.h).
#include "metrics/kube_client_metrics.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::metrics {
namespace {

TEST(KubeClientMetricsTest, APathNamesItsResourceAndSubresource) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/v1/namespaces/shop/pods", "pods"},
      {"/api/v1/namespaces/shop/pods/orders-0?dryRun=All", "pods"},
      {"/api/v1/namespaces/shop/pods/orders-0/status", "pods/status"},
      {"/apis/sluice.io/v1alpha1/namespaces/shop/functions/orders/status", "functions/status"},
      {"/apis/sluice.io/v1alpha1/functions?watch=true&resourceVersion=5", "functions"},
      {"/apis/coordination.k8s.io/v1/namespaces/sluice/leases/sluice-operator", "leases"},
      {"/api/v1/namespaces/shop", "namespaces"},
      {"/api/v1/namespaces", "namespaces"},
      {"/version", "other"},
      {"/api", "other"},
  };
  for (const auto& [path, resource] : cases) EXPECT_EQ(apiResourceOf(path), resource) << path;
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
