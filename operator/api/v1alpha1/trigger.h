// A Trigger (sluice.io/v1alpha1) as typed values: which Function it feeds,
// its one source with the CRD's defaults, and the rules several readers
// derive from it (the per-replica scaling target, the Kafka connection
// settings, the Secret keys it needs). The autoscaler's scaler factory, the
// TriggerController and the simulator read Triggers through here.
// Pure functions and values; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/secret_keys.h"
#include "common/status.h"

namespace sluice::api::v1alpha1 {

struct KafkaSource {
  std::vector<std::string> bootstrapServers;
  std::vector<std::string> topics;
  std::string consumerGroup;
  int64_t lagThreshold = 10;
  int64_t activationLagThreshold = 0;
  std::string initialOffset = "latest";  // or earliest
  bool allowIdleConsumers = false;
  bool limitToPartitionsWithLag = false;
  bool excludePersistentLag = false;
  struct Sasl {
    std::string mechanism;
    std::string secretName;  // keys username, password
  };
  std::optional<Sasl> sasl;
  struct Tls {
    std::string secretName;  // keys ca.crt (+ tls.crt, tls.key when mutual); "" = system CAs
    bool mutual = false;
  };
  std::optional<Tls> tls;

  // librdkafka's security.protocol for these settings: PLAINTEXT, SSL,
  // SASL_PLAINTEXT or SASL_SSL (the scaler and the replicas connect alike).
  std::string securityProtocol() const;
};

// The consumer group of a Trigger's spec.http.async.kafka when it names none.
std::string asyncConsumerGroup(const std::string& ns, const std::string& trigger);

// security.protocol for a Kafka connection with or without SASL and TLS.
std::string kafkaSecurityProtocol(bool sasl, bool tls);

struct RabbitMqSource {
  std::string queue;
  std::string connectionSecretName;
  std::string urlKey = "url";                      // the AMQP URL's key in that Secret
  std::string managementUrlKey = "managementUrl";  // the management API URL's key
  std::string depthMetric = "messages";            // or messagesReady
  int64_t queueLength = 20;
  int64_t activationQueueLength = 0;
  // tls: keys of the connection Secret holding PEM text for an amqps:// URL.
  // No caKey: the system's trusted CAs. certKey and keyKey go together.
  struct Tls {
    std::string caKey;
    std::string certKey;
    std::string keyKey;
  };
  std::optional<Tls> tls;
};

struct ObjectStoreSource {
  std::string type;  // s3, dir or webhdfs
  std::string endpoint;
  std::string bucket;
  std::string path;
  std::string prefix;
  std::string region = "us-east-1";
  std::string user;
  std::string credentialsSecretName;  // keys accessKey, secretKey; "" = anonymous
  int64_t targetObjectCount = 5;
  int64_t activationObjectCount = 0;
  int64_t maxObjectsToScan = 1000;
};

struct CronSource {
  std::string schedule;
  std::string timezone = "UTC";
  int replicas = 0;
  int windowSeconds = 0;
};

struct PrometheusSource {
  std::string serverAddress;
  std::string query;
  double threshold = 0;
  double activationThreshold = 0;
};

// The Secret keys a RabbitMQ connection at `path` ("spec.rabbitmq") needs:
// the AMQP URL's, then its TLS keys ({secret, key, "<path>.tls.caKey"}, ...).
std::vector<SecretKey> rabbitMqSecretKeys(const RabbitMqSource& rabbitmq, const std::string& path);

// spec.delivery, as far as the operator reads it.
struct Delivery {
  // Bytes of this Trigger's events a replica may hold unacknowledged; unset:
  // the runtime sizes it from the replica's memory limit.
  std::optional<int64_t> maxInFlightBytes;
};

struct Trigger {
  std::string name;
  std::string ns;
  std::string uid;
  std::string functionName;  // spec.functionRef.name
  std::string sourceType;    // kafka, rabbitmq, cron, http, objectStore or prometheus
  std::optional<KafkaSource> kafka;
  std::optional<RabbitMqSource> rabbitmq;
  std::optional<ObjectStoreSource> objectStore;
  std::optional<CronSource> cron;
  std::optional<PrometheusSource> prometheus;
  nlohmann::json http;  // spec.http as written (the gateway reads it)
  Delivery delivery;
  // spec.http.async.rabbitmq: the queue keeping asynchronous invocations
  // (its connection and queue fields only; the scaling fields keep their defaults).
  std::optional<RabbitMqSource> httpAsync;
  // spec.http.async.kafka instead: the topic keeping them, read as a Kafka
  // source of that one topic (consumerGroup defaulted by asyncConsumerGroup,
  // initialOffset earliest: invocations kept before the first replica joined
  // the group are its work too).
  std::optional<KafkaSource> httpAsyncKafka;

  // The Trigger object as JSON. Errors name the field; a field of the wrong
  // type or a missing required one is named after its source first
  // ("spec.prometheus: spec.prometheus.query: 5 is not a string"), a value
  // the source rejects is named alone ("spec.kafka.initialOffset: ...").
  static Result<Trigger> fromJson(const nlohmann::json& trigger);

  // The Secret keys the source needs to connect, in spec order.
  std::vector<SecretKey> requiredSecretKeys() const;
  // The Secrets the operator itself reads to measure this Trigger (Kafka sasl
  // and tls, RabbitMQ connectionSecretRef, objectStore credentialsSecretRef,
  // and an http Trigger's spec.http.async rabbitmq connectionSecretRef or kafka
  // sasl and tls: its backlog is measured with them), as {secret, "", field},
  // in spec order. Only these need scaler access.
  std::vector<SecretKey> scalerSecrets() const;
};

// The Secret keys a Kafka connection at `path` ("spec.kafka") needs: its SASL
// username and password, its TLS ca.crt (and tls.crt, tls.key when mutual).
std::vector<SecretKey> kafkaSecretKeys(const KafkaSource& kafka, const std::string& path);

// The connection Secret, URL key and tls keys of a RabbitMQ connection object
// (an output's, a dead letter's) at spec path `path`; errors name the field.
Result<RabbitMqSource> rabbitMqConnectionOf(const nlohmann::json& rabbitmq, const std::string& path);

// The sasl and tls settings of a Kafka connection object (a source's or an
// output's) at spec path `path`; errors name the field.
Result<KafkaSource> kafkaSecurityOf(const nlohmann::json& kafka, const std::string& path);

// A Secret opts in to being used by the operator itself (to measure a
// Trigger, sending its credentials to the Trigger's endpoint) with this label
// or annotation set to "true". Without it, creating a Trigger that names the
// Secret never makes the operator send the credentials anywhere: whoever may
// create Triggers is not thereby allowed to borrow every Secret of the
// namespace. Replicas mount a Trigger's Secrets regardless (they run with
// the Function's own privileges).
inline constexpr const char* kScalerAccessKey = "sluice.io/scaler-access";
bool allowsScalerAccess(const nlohmann::json& secret);
// Why a Secret named by `field` may not be used: "" when it may.
std::string scalerAccessRefusal(const nlohmann::json& secret, const std::string& ns, const std::string& field);

// The source of a Trigger spec: the first of kafka, rabbitmq, cron, http,
// objectStore, prometheus that is set ("" if none). Reads malformed specs too.
std::string sourceTypeOf(const nlohmann::json& spec);

// spec.delivery.maxInFlightBytes when it is set to an integer. Reads malformed specs too.
std::optional<int64_t> maxInFlightBytesOf(const nlohmann::json& spec);

// Names of the Secrets a Trigger spec references (any `secretRef` or
// `*SecretRef` with a name), in spec order, without repeats. Reads malformed specs too.
std::vector<std::string> referencedSecrets(const nlohmann::json& spec);

// The Secret keys a Trigger spec needs (Trigger::requiredSecretKeys) and its
// spec.delivery.deadLetter's (sinkSecretKeys); the source's none when the spec
// does not parse.
std::vector<SecretKey> requiredSecretKeys(const nlohmann::json& spec);

// What a replica is sized for: the per-replica target of the source's metric
// (kafka.lagThreshold, rabbitmq.queueLength or objectStore.targetObjectCount,
// with the CRD's defaults) and the activation threshold below which the
// Function may sleep. nullopt for the other sources. Reads only those two
// fields of a spec, so a what-if run may leave out the connection settings;
// errors name the field ("spec.kafka.lagThreshold: 0 must be at least 1").
struct ScalingTarget {
  int64_t perReplica = 0;
  int64_t activation = 0;
};
Result<std::optional<ScalingTarget>> scalingTargetOf(const nlohmann::json& spec);

// What one replica of an http Trigger's Function is sized for: a number of
// requests at once (spec.http.targetConcurrency; 0 when unset: the Function's
// spec.concurrency) or, with spec.http.targetRequestsPerSecond, a request
// rate. nullopt for other sources; errors name the field (both set, or not positive).
struct HttpScalingTarget {
  enum class Metric { kConcurrency, kRequestsPerSecond };
  Metric metric = Metric::kConcurrency;
  double perReplica = 0;
};
Result<std::optional<HttpScalingTarget>> httpScalingTargetOf(const nlohmann::json& spec);

}  // namespace sluice::api::v1alpha1
