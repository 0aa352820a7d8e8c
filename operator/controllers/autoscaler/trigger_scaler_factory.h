// TriggerScalerFactory: the real ScalerFactory. Reads a Trigger's spec and
// the Secrets it refers to (through the ResourceClient, so the operator needs
// `get` on Secrets of the namespaces it watches) and builds:
//   kafka       -> KafkaLagScaler over an RdKafkaOffsetSource (SASL/TLS from the Secrets)
//   rabbitmq    -> RabbitMQQueueScaler on the management URL of connectionSecretRef
//                  (key managementKey) and an AMQP passive declare on its AMQP URL
//                  (key; also gives the vhost); either alone is enough
//   cron        -> CronTickScaler (a floor from a tick until it is delivered)
//   objectStore -> ObjectCountScaler over S3 (credentialsSecretRef), dir or WebHDFS
//   prometheus  -> PrometheusScaler
//   http        -> HttpRequestsScaler over the gateways' /loads when gatewayLoadsUrls
//                  is given (target: spec.http.targetConcurrency, else the
//                  Function's spec.concurrency); else none
// and, for a Function's spec.scaling.cpuTargetUtilization, a MetricsApiCpuScaler
// (metrics.k8s.io, as the HPA) that falls back to a RuntimeCpuScaler over the
// replicas' /metrics (process_cpu_seconds_total) where metrics.k8s.io is not
// installed, both against spec.resources.requests.cpu.
// The operator uses a Secret only when it opted in (api::v1alpha1::kScalerAccessKey),
// connects only to endpoints the allow-list admits (when one is given), and
// reads at most maxResponseBytes of any HTTP answer.
// Thread-safe: create() keeps no state besides the shared HttpClient and the Kafka clients,
// one per cluster and credentials, shared by every Trigger that reads that cluster.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/trigger.h"
#include "common/clock.h"
#include "controllers/autoscaler/scaler_factory.h"
#include "http/http_client.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "scalers/endpoint_allow_list.h"
#include "scalers/rdkafka_offset_source.h"

namespace sluice::controllers {

struct TriggerScalerFactoryOptions {
  // Per request to the brokers or HTTP endpoints: bounds how long one slow
  // source can hold its Function's round.
  int kafkaTimeoutMilliseconds = 3000;
  // The /metrics URLs of a Function's Ready replicas (namespace, name); none: CPU is not measured.
  std::function<std::vector<std::string>(const std::string&, const std::string&)> replicaMetricsUrls;
  // The CA certificates those URLs are verified with when https (the
  // replicas' control port, docs/trust.md); none: https ones fail.
  std::function<std::string()> replicaTrustedCertificates;
  // The names of those replica pods; given, CPU is read from metrics.k8s.io where the
  // apiserver serves it, and from the URLs above where it does not.
  std::function<std::vector<std::string>(const std::string&, const std::string&)> replicaPodNames;
  // For a cron Trigger (namespace, name): the instant before which its firings are
  // settled (cronSettledBefore of its current object), nullopt when not known;
  // none: the cron floor holds each firing's whole delivery window.
  std::function<std::optional<std::chrono::system_clock::time_point>(const std::string&, const std::string&)>
      cronSettledBefore;
  // The /loads URLs of the gateway replicas; none: http Triggers are not measured.
  std::function<std::vector<std::string>()> gatewayLoadsUrls;
  // A Function's spec.concurrency (namespace, name), the default target of its http scaler.
  std::function<int(const std::string&, const std::string&)> functionConcurrency;
  // The brokers, buckets and servers Triggers may make the operator connect to; empty: any.
  scalers::EndpointAllowList allowedEndpoints;
  // The most bytes of any HTTP answer a scaler reads (Prometheus, S3 listings, WebHDFS,
  // RabbitMQ management, replica /metrics, gateway /loads); 0: no limit.
  uint64_t maxResponseBytes = kDefaultMaxScalerResponseBytes;
  static constexpr uint64_t kDefaultMaxScalerResponseBytes = 16ULL << 20;
};

class TriggerScalerFactory final : public ScalerFactory {
 public:
  TriggerScalerFactory(kube::ResourceClient& client, std::shared_ptr<http::HttpClient> http, const Clock& clock,
                       TriggerScalerFactoryOptions options = {});
  Result<std::unique_ptr<scalers::Scaler>> create(const nlohmann::json& trigger) override;
  Result<std::unique_ptr<scalers::Scaler>> createCpu(const nlohmann::json& function) override;

 private:
  // The decoded value of data[key] of Secret `name`; `field` names the reference in errors.
  Result<std::string> secretValue(const std::string& ns, const std::string& name, const std::string& key,
                                  const std::string& field);
  // `path`: where the connection is written (spec.kafka, spec.http.async.kafka), for errors.
  // `function`: the Function whose replicas' own counters the rate policy reads (none: offsets only).
  Result<std::unique_ptr<scalers::Scaler>> kafka(const api::v1alpha1::KafkaSource& kafka, const std::string& ns,
                                                 const std::string& path = "spec.kafka",
                                                 const std::string& function = "");
  Result<std::unique_ptr<scalers::Scaler>> rabbitmq(const api::v1alpha1::RabbitMqSource& rabbitmq,
                                                    const std::string& ns);
  Result<std::unique_ptr<scalers::Scaler>> objectStore(const api::v1alpha1::ObjectStoreSource& store,
                                                       const std::string& ns);
  Result<std::unique_ptr<scalers::Scaler>> cron(const api::v1alpha1::Trigger& trigger);
  Result<std::unique_ptr<scalers::Scaler>> prometheus(const api::v1alpha1::PrometheusSource& prometheus);
  // http: the gateway's in-flight requests against the target concurrency.
  Result<std::unique_ptr<scalers::Scaler>> httpRequests(const api::v1alpha1::Trigger& trigger);

  kube::ResourceClient& client_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<http::HttpClient> replicaHttp_;  // replica /metrics: the control port, https when it serves TLS
  const Clock& clock_;
  TriggerScalerFactoryOptions options_;
  scalers::RdKafkaClientPool kafkaClients_;
};

// TriggerScalerFactoryOptions::functionConcurrency over a cache of Functions
// (the Manager's informer, or --local's store); it must outlive the result.
std::function<int(const std::string&, const std::string&)> functionConcurrencyIn(const kube::ObjectCache& functions);

// The vhost of an AMQP URL ("amqp://u:p@h:5672/%2f" -> "/", no path -> "/").
Result<std::string> amqpVhost(const std::string& url);

}  // namespace sluice::controllers
