// Kafka consumer-group lag as a scaling metric, with KEDA's rules.
//
// KafkaOffsetSource fetches, in one round per consumer group, the committed
// offset and the high watermark of every partition of the topics (the real one
// is RdKafkaOffsetSource; tests use a fake). KafkaLagCalculator applies KEDA's
// rules to those numbers:
//   lag = high watermark - committed;
//   no committed offset -> 1 with offsetResetPolicy latest, the high watermark
//   with earliest (0 with scaleToZeroOnInvalidOffset);
//   excludePersistentLag: a partition whose committed offset did not move since
//   the last round adds no lag to the metric (it still counts for activation);
//   the metric is capped at partitions x lagThreshold (replicas beyond the
//   partition count would idle) unless allowIdleConsumers, and at partitions
//   with lag x lagThreshold with limitToPartitionsWithLag.
// Thread-compatible: the calculator remembers last round's offsets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scalers/replica_counters.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

// No committed offset for the group on this partition.
constexpr int64_t kNoCommittedOffset = -1;

struct PartitionOffsets {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = kNoCommittedOffset;
  int64_t highWatermark = 0;
};

class KafkaOffsetSource {
 public:
  virtual ~KafkaOffsetSource() = default;
  // Every partition of `topics`, with the group's committed offsets and the high watermarks.
  virtual Result<std::vector<PartitionOffsets>> fetch(const std::string& group,
                                                      const std::vector<std::string>& topics) = 0;
};

enum class OffsetResetPolicy { kLatest, kEarliest };

struct KafkaLagOptions {
  std::string consumerGroup;
  std::vector<std::string> topics;
  int64_t lagThreshold = 10;
  int64_t activationLagThreshold = 0;
  OffsetResetPolicy offsetResetPolicy = OffsetResetPolicy::kLatest;
  bool allowIdleConsumers = false;
  bool limitToPartitionsWithLag = false;
  bool excludePersistentLag = false;
  bool scaleToZeroOnInvalidOffset = false;
  // The replicas' own counters (readReplicaCounters), when the operator can
  // reach them: the rate policy then measures capacity from busy time instead
  // of from the committed offsets while work waited.
  std::function<std::optional<ReplicaCounters>()> replicaCounters;
};

struct KafkaLag {
  int64_t totalLag = 0;                // the metric, after the caps
  int64_t totalLagWithPersistent = 0;  // for activation
  int partitions = 0;
  int partitionsWithLag = 0;
  // For the rate policy: the lag before the caps, and the sums of the
  // committed offsets (empty while a partition has none) and high watermarks.
  int64_t uncappedLag = 0;
  std::optional<int64_t> committedTotal;
  int64_t highWatermarkTotal = 0;
};

class KafkaLagCalculator {
 public:
  explicit KafkaLagCalculator(KafkaLagOptions options) : options_(std::move(options)) {}
  KafkaLag compute(const std::vector<PartitionOffsets>& offsets);

 private:
  KafkaLagOptions options_;
  std::map<std::pair<std::string, int32_t>, int64_t> previousCommitted_;
};

class KafkaLagScaler final : public Scaler {
 public:
  KafkaLagScaler(KafkaLagOptions options, std::shared_ptr<KafkaOffsetSource> source);
  std::string name() const override;
  ScalerTarget target() const override;
  Result<ScalerReading> read() override;

 private:
  KafkaLagOptions options_;
  std::shared_ptr<KafkaOffsetSource> source_;
  KafkaLagCalculator calculator_;
};

}  // namespace sluice::scalers
