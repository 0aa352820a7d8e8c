#include "scalers/kafka_lag.h"

#include <algorithm>

namespace sluice::scalers {

KafkaLag KafkaLagCalculator::compute(const std::vector<PartitionOffsets>& offsets) {
  KafkaLag result;
  result.committedTotal = 0;
  for (const PartitionOffsets& p : offsets) {
    ++result.partitions;
    result.highWatermarkTotal += std::max<int64_t>(p.highWatermark, 0);
    // A partition's first commit would read as all its history processed at once.
    if (p.committed < 0) result.committedTotal.reset();
    if (result.committedTotal) *result.committedTotal += p.committed;
    int64_t lag = 0;
    int64_t lagWithPersistent = 0;
    if (p.committed < 0) {
      // Where a new consumer would start decides how much work is waiting.
      if (options_.scaleToZeroOnInvalidOffset) {
        lag = 0;
      } else if (options_.offsetResetPolicy == OffsetResetPolicy::kLatest) {
        lag = 1;  // unknown but possibly non-zero: enough to activate one replica
      } else {
        lag = std::max<int64_t>(p.highWatermark, 0);
      }
      lagWithPersistent = lag;
    } else {
      // A high watermark read just before a commit can trail it; that is no lag.
      lagWithPersistent = std::max<int64_t>(p.highWatermark - p.committed, 0);
      lag = lagWithPersistent;
      if (options_.excludePersistentLag) {
        auto key = std::make_pair(p.topic, p.partition);
        auto previous = previousCommitted_.find(key);
        // A consumer stuck on a partition (poison message) should not add replicas.
        if (previous != previousCommitted_.end() && previous->second == p.committed) lag = 0;
        previousCommitted_[key] = p.committed;
      }
    }
    result.totalLag += lag;
    result.totalLagWithPersistent += lagWithPersistent;
    if (lag > 0) ++result.partitionsWithLag;
  }
  result.uncappedLag = result.totalLag;
  if (!options_.allowIdleConsumers || options_.limitToPartitionsWithLag) {
    int64_t upperBound = options_.limitToPartitionsWithLag ? result.partitionsWithLag : result.partitions;
    // Integer division as KEDA: the cap bites once whole replicas exceed the bound.
    if (options_.lagThreshold > 0 && result.totalLag / options_.lagThreshold > upperBound) {
      result.totalLag = upperBound * options_.lagThreshold;
    }
  }
  return result;
}

KafkaLagScaler::KafkaLagScaler(KafkaLagOptions options, std::shared_ptr<KafkaOffsetSource> source)
    : options_(options), source_(std::move(source)), calculator_(std::move(options)) {}

std::string KafkaLagScaler::name() const {
  std::string topics;
  for (const std::string& t : options_.topics) topics += (topics.empty() ? "" : ",") + t;
  return "kafka/" + options_.consumerGroup + "/" + topics;
}

ScalerTarget KafkaLagScaler::target() const {
  return {autoscaler::MetricTargetType::kAverageValue, static_cast<double>(options_.lagThreshold),
          static_cast<double>(options_.activationLagThreshold)};
}

Result<ScalerReading> KafkaLagScaler::read() {
  Result<std::vector<PartitionOffsets>> offsets = source_->fetch(options_.consumerGroup, options_.topics);
  if (!offsets.isOk()) return offsets.status().withContext("kafka lag of group " + options_.consumerGroup);
  if (offsets->empty()) {
    return Status(StatusCode::kNotFound,
                  "kafka lag of group " + options_.consumerGroup + ": the topics have no partitions");
  }
  KafkaLag lag = calculator_.compute(*offsets);
  ScalerReading reading;
  reading.value = static_cast<double>(lag.totalLag);
  reading.active = lag.totalLagWithPersistent > options_.activationLagThreshold;
  const std::optional<ReplicaCounters> replicas =
      options_.replicaCounters ? options_.replicaCounters() : std::optional<ReplicaCounters>();
  if (replicas) {
    reading.processedTotal = replicas->processed;
    reading.busySecondsTotal = replicas->busySeconds;
    reading.countedReplicas = replicas->replicas;
  } else if (lag.committedTotal) {
    reading.processedTotal = static_cast<double>(*lag.committedTotal);
  }
  reading.arrivedTotal = static_cast<double>(lag.highWatermarkTotal);
  reading.backlog = static_cast<double>(lag.uncappedLag);
  if (!options_.allowIdleConsumers) reading.partitions = lag.partitions;
  return reading;
}

}  // namespace sluice::scalers
