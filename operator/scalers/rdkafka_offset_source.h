// RdKafkaOffsetSource: KafkaOffsetSource over librdkafka.
//
// One round per consumer group: metadata for the topics' partitions, one
// ListConsumerGroupOffsets admin request for the group's committed offsets of
// all partitions, and one offsets-for-times request (timestamp "latest") for all
// high watermarks (written for Debian's 2.0.2, which has no rd_kafka_ListOffsets). Holds one
// client handle for its lifetime. Thread-safe (librdkafka handles are).
//
// RdKafkaClientPool hands out one RdKafkaOffsetSource per cluster and credentials: a client is
// threads, broker connections and buffers (about 0.5 MB of heap each, measured at 1,000
// Functions: BENCHMARKS.md), and nothing in it belongs to one consumer group, so Triggers on the
// same cluster share it. It lives while a scaler holds it.
//
// The gateway keeps Kafka clients too (gateway/kafka_invocation_queue.h, its publishers), keyed
// by the same clients::KafkaClientSettings, but in a cache of its own, for three reasons: it runs
// in another process (sluice-gateway), so no client could be shared with this one; its clients
// are idempotent producers waiting for acks=all, where these are consumer handles for group
// offset requests (a librdkafka handle is one or the other); and nothing holds its publishers
// between two requests, so this pool's "lives while a scaler holds it" would close and reconnect
// a producer per request — it keeps them for the process's life instead. A shared template
// would take the client type, its factory and its lifetime as parameters: only the map lookup
// would be left in common.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "clients/kafka_config.h"
#include "scalers/kafka_lag.h"

namespace sluice::scalers {

class RdKafkaOffsetSource final : public KafkaOffsetSource {
 public:
  // `config` adds librdkafka properties (security.protocol, sasl.*, ...).
  static Result<std::shared_ptr<RdKafkaOffsetSource>> create(const std::string& bootstrapServers,
                                                             const std::map<std::string, std::string>& config = {},
                                                             int timeoutMilliseconds = 5000);
  ~RdKafkaOffsetSource() override;

  // A failure caused by a client-level error (wrong credentials, TLS, an
  // unreachable broker) names that error, not only the request that timed out.
  Result<std::vector<PartitionOffsets>> fetch(const std::string& group,
                                              const std::vector<std::string>& topics) override;

  struct Handle;

 private:
  // `coordinatorNotReady` is set when the group's coordinator was loading or had moved: worth asking
  // again at once.
  Result<std::vector<PartitionOffsets>> fetchOnce(const std::string& group, const std::vector<std::string>& topics,
                                                  bool& coordinatorNotReady);
  RdKafkaOffsetSource(std::unique_ptr<Handle> handle, int timeoutMilliseconds);
  std::unique_ptr<Handle> handle_;
  int timeoutMilliseconds_;
};

class RdKafkaClientPool {
 public:
  // The live source for these servers, properties and timeout, or a new one. Thread-safe.
  Result<std::shared_ptr<KafkaOffsetSource>> acquire(const clients::KafkaClientSettings& settings,
                                                     int timeoutMilliseconds);
  // Sources some scaler still holds.
  size_t liveClients() const;

 private:
  mutable std::mutex mu_;
  // Keyed by every setting (credentials included: a rotated password gets a client of its own).
  std::map<std::pair<clients::KafkaClientSettings, int>, std::weak_ptr<RdKafkaOffsetSource>> clients_;
};

}  // namespace sluice::scalers
