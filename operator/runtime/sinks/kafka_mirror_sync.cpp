#include "runtime/sinks/kafka_mirror_sync.h"

#include <utility>

#include "common/logging.h"
#include "runtime/sinks/kafka_admin.h"

namespace sluice::runtime {

namespace {

constexpr std::chrono::seconds kTick{1};
constexpr std::chrono::seconds kLagInterval{5};

// A partition list of `offsets` (topic, partition, offset); the caller destroys it.
rd_kafka_topic_partition_list_t* partitionList(const std::map<TopicPartition, int64_t>& offsets) {
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list, partition.topic.c_str(), partition.partition)->offset = offset;
  }
  return list;
}

// The first error of a group result: the group's own, else a partition's.
std::string groupResultError(const rd_kafka_group_result_t* result) {
  if (const rd_kafka_error_t* error = rd_kafka_group_result_error(result)) return rd_kafka_error_string(error);
  const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(result);
  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::string(partitions->elems[i].topic) + "[" + std::to_string(partitions->elems[i].partition) +
             "]: " + rd_kafka_err2str(partitions->elems[i].err);
    }
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<KafkaGroupOffsetsClient>> KafkaGroupOffsetsClient::create(
    const std::map<std::string, std::string>& properties, const std::string& what) {
  auto client = kafka_admin::makeClient(properties, "mirror group offset sync (" + what + ")");
  if (!client.isOk()) return client.status();
  return std::unique_ptr<KafkaGroupOffsetsClient>(new KafkaGroupOffsetsClient(*client));
}

KafkaGroupOffsetsClient::~KafkaGroupOffsetsClient() { rd_kafka_destroy(client_); }

Result<std::vector<std::string>> KafkaGroupOffsetsClient::listGroups() {
  std::vector<std::string> groups;
  Status listed = kafka_admin::request(
      client_, "listing consumer groups",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_ListConsumerGroups(client_, options, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_ConsumerGroupListing_t** listings =
            rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(event), &count);
        for (size_t i = 0; i < count; ++i) groups.emplace_back(rd_kafka_ConsumerGroupListing_group_id(listings[i]));
        return "";
      },
      &cancelled_);
  if (!listed.isOk()) return listed;
  return groups;
}

Result<std::map<TopicPartition, int64_t>> KafkaGroupOffsetsClient::committed(const std::string& group) {
  std::map<TopicPartition, int64_t> offsets;
  rd_kafka_ListConsumerGroupOffsets_t* list = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  Status read = kafka_admin::request(
      client_, "committed offsets of group \"" + group + "\"",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_ListConsumerGroupOffsets(client_, &list, 1, options, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_group_result_t** results = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (const rd_kafka_error_t* error = rd_kafka_group_result_error(results[i])) {
            // No such group: nothing committed.
            if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
            return rd_kafka_error_string(error);
          }
          const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(results[i]);
          for (int p = 0; partitions != nullptr && p < partitions->cnt; ++p) {
            const rd_kafka_topic_partition_t& entry = partitions->elems[p];
            if (entry.err == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0) {
              offsets[{entry.topic, entry.partition}] = entry.offset;
            }
          }
        }
        return "";
      },
      &cancelled_);
  rd_kafka_ListConsumerGroupOffsets_destroy(list);
  if (!read.isOk()) return read;
  return offsets;
}

Result<bool> KafkaGroupOffsetsClient::active(const std::string& group) {
  bool running = false;
  const char* groups[] = {group.c_str()};
  Status described = kafka_admin::request(
      client_, "describing group \"" + group + "\"",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_DescribeConsumerGroups(client_, groups, 1, options, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_ConsumerGroupDescription_t** descriptions =
            rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (const rd_kafka_error_t* error = rd_kafka_ConsumerGroupDescription_error(descriptions[i])) {
            if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;  // not there: inactive
            return rd_kafka_error_string(error);
          }
          rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(descriptions[i]);
          // Empty: offsets only; Dead: not there. Anything else has (or is getting) members.
          running = rd_kafka_ConsumerGroupDescription_member_count(descriptions[i]) > 0 ||
                    (state != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY && state != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD);
        }
        return "";
      },
      &cancelled_);
  if (!described.isOk()) return described;
  return running;
}

Status KafkaGroupOffsetsClient::commit(const std::string& group, const std::map<TopicPartition, int64_t>& offsets) {
  rd_kafka_topic_partition_list_t* partitions = partitionList(offsets);
  rd_kafka_AlterConsumerGroupOffsets_t* alter = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), partitions);
  rd_kafka_topic_partition_list_destroy(partitions);
  Status committed = kafka_admin::request(
      client_, "committing translated offsets of group \"" + group + "\"",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_AlterConsumerGroupOffsets(client_, &alter, 1, options, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (std::string error = groupResultError(results[i]); !error.empty()) return error;
        }
        return "";
      },
      &cancelled_);
  rd_kafka_AlterConsumerGroupOffsets_destroy(alter);
  return committed;
}

int64_t KafkaGroupOffsetsClient::highWatermark(const TopicPartition& partition) {
  if (cancelled_) return -1;
  int64_t low = -1;
  int64_t high = -1;
  if (rd_kafka_query_watermark_offsets(client_, partition.topic.c_str(), partition.partition, &low, &high, 2000) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

Result<std::unique_ptr<KafkaMirrorSync>> KafkaMirrorSync::create(KafkaMirrorSyncOptions options) {
  std::unique_ptr<KafkaMirrorSync> sync(new KafkaMirrorSync(std::move(options)));
  auto source = KafkaGroupOffsetsClient::create(sync->options_.sourceProperties, "source cluster");
  if (!source.isOk()) return source.status();
  sync->source_ = std::move(source).value();
  if (!sync->options_.groups.groups.empty()) {
    auto target = KafkaGroupOffsetsClient::create(sync->options_.targetProperties, "target cluster");
    if (!target.isOk()) return target.status();
    sync->target_ = std::move(target).value();
    sync->groups_ = std::make_unique<GroupOffsetSync>(sync->options_.groups, *sync->options_.store, *sync->source_,
                                                      *sync->target_, realClock());
  }
  KafkaMirrorSync* raw = sync.get();
  sync->thread_ = std::jthread([raw](std::stop_token stop) { raw->loop(stop); });
  return sync;
}

KafkaMirrorSync::~KafkaMirrorSync() {
  thread_.request_stop();
  // A request waiting on a cluster that does not answer gives up now, not after its timeout.
  if (source_) source_->cancel();
  if (target_) target_->cancel();
  if (options_.topicSync) options_.topicSync->cancel();
  if (thread_.joinable()) thread_.join();
}

void KafkaMirrorSync::loop(std::stop_token stop) {
  Clock& clock = realClock();
  while (!stop.stop_requested()) {
    Clock::TimePoint now = clock.now();
    if (groups_) {
      if (auto pass = groups_->runIfDue()) {
        for (const auto& error : pass->errors) SLUICE_LOG_WARN("mirror group offset sync: {}", error);
        if (pass->partitionsCommitted > 0) {
          SLUICE_LOG_DEBUG("mirror group offset sync: {} partition(s) of {} group(s) moved forward on the target",
                           pass->partitionsCommitted, pass->committedGroups.size());
        }
      }
    }
    if (!stop.stop_requested()) syncConfigsIfDue(now);
    if (!stop.stop_requested() && (!lastLag_ || now - *lastLag_ >= kLagInterval)) {
      lastLag_ = now;
      reportLag(stop);
    }
    clock.sleepUntil(now + kTick, stop);
  }
}

void KafkaMirrorSync::syncConfigsIfDue(Clock::TimePoint now) {
  if (!options_.topicSync || options_.configSyncInterval.count() == 0) return;
  if (lastConfigSync_ && now - *lastConfigSync_ < options_.configSyncInterval) return;
  lastConfigSync_ = now;
  if (Status synced = options_.topicSync->syncConfigs(); !synced.isOk()) {
    SLUICE_LOG_WARN("mirror topic config sync: {}", synced.toString());
  }
}

void KafkaMirrorSync::reportLag(std::stop_token stop) {
  if (!options_.onLag) return;
  auto wallNow = std::chrono::system_clock::now();
  for (const auto& [partition, progress] : options_.store->progress()) {
    if (stop.stop_requested()) return;
    int64_t high = source_->highWatermark(partition);
    // A unreachable: the last figures stay, and the other partitions are not asked (2 s each) this time.
    if (high < 0) return;
    int64_t records = std::max<int64_t>(high - progress.nextSourceOffset, 0);
    double seconds = 0;
    if (records > 0) seconds = std::max(std::chrono::duration<double>(wallNow - progress.lastSourceTime).count(), 0.0);
    options_.onLag(partition.topic, partition.partition, records, seconds);
  }
}

}  // namespace sluice::runtime
