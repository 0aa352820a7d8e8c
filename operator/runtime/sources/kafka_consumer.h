// KafkaConsumer: the little KafkaSource needs of a consumer-group member, as a
// seam, so the source's bookkeeping (commit only the contiguous done prefix,
// a revoke arriving in the middle of a fetch, a deferred re-assignment, paused
// partitions, failed commits sent again) is unit-tested over an in-memory
// fake (tests/fakes/fake_kafka_consumer.h). The real one is RdKafkaConsumer
// (rdkafka_consumer.h), over librdkafka.
//
// Rebalances and commit results reach the source through a
// KafkaConsumerListener, called back from inside consume(), commitSync() and
// close(), as librdkafka serves its callbacks: a rebalance can land in the
// middle of a fetch. Not thread-safe: the source's thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

// No offset given (librdkafka's RD_KAFKA_OFFSET_INVALID): an assignment then
// starts at the group's committed offset, or where auto.offset.reset points.
inline constexpr int64_t kKafkaNoOffset = -1001;

// A topic partition, with an offset where one is meant (a commit, an assignment).
struct KafkaPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = kKafkaNoOffset;
  std::string error;  // a commit's result for this partition: "" when it succeeded
  // The commit's metadata string (kafka_crash_marks.h): sent with a commit,
  // read back by committed() and in a commit's result.
  std::string metadata;
};

// One record as fetched.
struct KafkaRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  Headers headers;
  std::optional<int64_t> timestampMs;  // the record's timestamp, when it has one
};

struct KafkaWatermarks {
  int64_t low = 0;
  int64_t high = 0;  // the offset the next record written will get
};

// What the consumer tells its owner, on the owner's thread, from inside its calls.
class KafkaConsumerListener {
 public:
  virtual ~KafkaConsumerListener() = default;
  // Partitions the group gives this member. The listener takes them with
  // KafkaConsumer::assign(), then or later (until then nothing is fetched
  // from them and the group waits for the member).
  virtual void onAssign(const std::vector<KafkaPartition>& partitions, bool cooperative) = 0;
  // Partitions taken away (all of them when not cooperative); `lost` when the
  // member may no longer commit for them (a session timeout, a rebalance
  // error): another member may own them already. The consumer gives them up
  // once this returns.
  virtual void onRevoke(const std::vector<KafkaPartition>& partitions, bool lost) = 0;
  // The result of a commit, per partition (KafkaPartition::error).
  virtual void onCommitted(const std::vector<KafkaPartition>& offsets) = 0;
};

class KafkaConsumer {
 public:
  virtual ~KafkaConsumer() = default;

  // Creates the member with `properties` (librdkafka's) and subscribes it to
  // `topics`; `listener` must outlive it. The error names the property or
  // the reason (the caller adds which trigger).
  virtual Status open(const std::map<std::string, std::string>& properties, const std::vector<std::string>& topics,
                      KafkaConsumerListener& listener) = 0;

  // Appends to `records` what has been fetched, up to `max`, waiting up to
  // `timeout` for the first when there is none. Returns how many the client
  // handed over, failed fetches included (those are logged, not appended).
  // Rebalances are served inside.
  virtual size_t consume(std::vector<KafkaRecord>& records, size_t max, std::chrono::milliseconds timeout) = 0;

  // Takes partitions the listener was given (incrementally when cooperative).
  virtual Status assign(const std::vector<KafkaPartition>& partitions, bool cooperative) = 0;
  virtual std::vector<KafkaPartition> assignment() = 0;
  // True once the group has taken the assignment away without a revoke (a session timeout).
  virtual bool assignmentLost() = 0;
  // Fetching stops / goes on where it stopped; the member stays in the group.
  virtual void pause(const std::vector<KafkaPartition>& partitions) = 0;
  virtual void resume(const std::vector<KafkaPartition>& partitions) = 0;

  // Commits the offsets (the next offset to read, per partition). The
  // asynchronous one reports through onCommitted() from a later call; the
  // synchronous one waits, fills in each partition's error, and also reports.
  virtual Status commitAsync(const std::vector<KafkaPartition>& offsets) = 0;
  virtual Status commitSync(std::vector<KafkaPartition>& offsets) = 0;
  // The group's committed offsets of `partitions` (kKafkaNoOffset: none yet).
  virtual Status committed(std::vector<KafkaPartition>& partitions, std::chrono::milliseconds timeout) = 0;
  // A partition's watermarks: as last fetched, or asked of the broker
  // (`askBroker`, up to `timeout`); nullopt when unknown.
  virtual std::optional<KafkaWatermarks> watermarks(const std::string& topic, int32_t partition, bool askBroker,
                                                    std::chrono::milliseconds timeout) = 0;

  // Whether any broker of the cluster answers a metadata request within
  // `timeout`: a drain tells a cluster that is gone from a group that is
  // slow (rebalancing) by it.
  virtual bool clusterReachable(std::chrono::milliseconds timeout) = 0;

  // Leaves the group (serving the final revoke through the listener), giving
  // up after `budget` (0: at once, for a cluster that is unreachable). A
  // member that could not leave is abandoned, not waited for: librdkafka
  // would hold it for session.timeout.ms with commits that can no longer
  // arrive; the group drops it after that timeout, and the records whose
  // offsets did not reach it are read again by the next owner (duplicates,
  // never losses: an offset is committed only once its record is done).
  virtual void close(std::chrono::milliseconds budget) = 0;
};

}  // namespace sluice::runtime
