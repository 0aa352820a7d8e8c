#include "runtime/sinks/kafka_topic_sync.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "runtime/sinks/kafka_admin.h"

namespace sluice::runtime {

namespace {

using kafka_admin::kTimeoutMs;
using kafka_admin::makeClient;

// The first error of a CreateTopics/CreatePartitions answer, ignoring `benign` (another replica won the race).
std::string topicResultError(const rd_kafka_topic_result_t** results, size_t count, rd_kafka_resp_err_t benign) {
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != benign) return rd_kafka_topic_result_error_string(results[i]);
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<KafkaTopicSync>> KafkaTopicSync::create(KafkaTopicSyncOptions options) {
  auto source = makeClient(options.sourceProperties, "mirror topic sync (source cluster)");
  if (!source.isOk()) return source.status();
  auto target = makeClient(options.targetProperties, "mirror topic sync (target cluster)");
  if (!target.isOk()) {
    rd_kafka_destroy(*source);
    return target.status();
  }
  return std::unique_ptr<KafkaTopicSync>(new KafkaTopicSync(std::move(options), *source, *target));
}

KafkaTopicSync::~KafkaTopicSync() {
  rd_kafka_destroy(source_);
  rd_kafka_destroy(target_);
}

Result<int32_t> KafkaTopicSync::partitionCount(rd_kafka_t* client, const std::string& topic) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, handle, &metadata, kTimeoutMs);
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return unavailable("metadata of topic \"" + topic + "\": " + rd_kafka_err2str(err));
  Result<int32_t> count = 0;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& found = metadata->topics[i];
    if (topic != found.topic || found.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    if (found.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = unavailable("metadata of topic \"" + topic + "\": " + rd_kafka_err2str(found.err));
    } else {
      count = found.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return count;
}

Result<std::map<std::string, std::string>> KafkaTopicSync::topicConfigs(rd_kafka_t* client, const std::string& topic) {
  std::map<std::string, std::string> configs;
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Status described = kafka_admin::request(
      client, "configs of topic \"" + topic + "\"",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_DescribeConfigs(client, &resource, 1, options, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_ConfigResource_t** resources =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (rd_kafka_ConfigResource_error(resources[i])) return rd_kafka_ConfigResource_error_string(resources[i]);
          size_t entries = 0;
          const rd_kafka_ConfigEntry_t** entry = rd_kafka_ConfigResource_configs(resources[i], &entries);
          for (size_t e = 0; e < entries; ++e) {
            // Only what was set on the topic: B's own defaults stay B's.
            if (rd_kafka_ConfigEntry_source(entry[e]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) continue;
            if (rd_kafka_ConfigEntry_is_sensitive(entry[e]) || rd_kafka_ConfigEntry_value(entry[e]) == nullptr)
              continue;
            configs[rd_kafka_ConfigEntry_name(entry[e])] = rd_kafka_ConfigEntry_value(entry[e]);
          }
        }
        return "";
      },
      &cancelled_);
  rd_kafka_ConfigResource_destroy(resource);
  if (!described.isOk()) return described;
  return configs;
}

Status KafkaTopicSync::createTarget(const std::string& topic, int32_t partitions,
                                    const std::map<std::string, std::string>& configs) {
  char error[512];
  // Replication factor -1: the target broker's default.
  rd_kafka_NewTopic_t* newTopic = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, error, sizeof error);
  if (newTopic == nullptr) return invalidArgument("creating topic \"" + topic + "\": " + error);
  for (const auto& [name, value] : configs) rd_kafka_NewTopic_set_config(newTopic, name.c_str(), value.c_str());
  Status created = kafka_admin::request(
      target_, "creating topic \"" + topic + "\" on the target cluster",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreateTopics(target_, &newTopic, 1, options, queue);
      },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        return topicResultError(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
      },
      &cancelled_);
  rd_kafka_NewTopic_destroy(newTopic);
  return created;
}

Status KafkaTopicSync::growTarget(const std::string& topic, int32_t partitions) {
  char error[512];
  rd_kafka_NewPartitions_t* grow = rd_kafka_NewPartitions_new(topic.c_str(), partitions, error, sizeof error);
  if (grow == nullptr) return invalidArgument("growing topic \"" + topic + "\": " + error);
  Status grown = kafka_admin::request(
      target_, "growing topic \"" + topic + "\" to " + std::to_string(partitions) + " partitions on the target cluster",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreatePartitions(target_, &grow, 1, options, queue);
      },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &count);
        return topicResultError(results, count, RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
      },
      &cancelled_);
  rd_kafka_NewPartitions_destroy(grow);
  return grown;
}

Result<int32_t> KafkaTopicSync::ensure(const std::string& targetTopic, int32_t partitions) {
  std::lock_guard lock(mu_);
  const std::string& prefix = options_.prefix;
  std::string source = targetTopic.rfind(prefix, 0) == 0 ? targetTopic.substr(prefix.size()) : targetTopic;
  auto sourceCount = partitionCount(source_, source);
  if (!sourceCount.isOk()) return sourceCount.status().withContext("source cluster");
  const int32_t want = std::max(*sourceCount, partitions);
  auto targetCount = partitionCount(target_, targetTopic);
  if (!targetCount.isOk()) return targetCount.status().withContext("target cluster");
  if (*targetCount == 0) {
    std::map<std::string, std::string> configs;
    if (*sourceCount > 0) {
      auto read = topicConfigs(source_, source);
      if (!read.isOk()) return read.status().withContext("source cluster");
      configs = std::move(read).value();
    }
    if (Status created = createTarget(targetTopic, want, configs); !created.isOk()) return created;
    known_.insert(targetTopic);
    return want;
  }
  known_.insert(targetTopic);
  if (*targetCount >= want) return *targetCount;
  if (Status grown = growTarget(targetTopic, want); !grown.isOk()) return grown;
  return want;
}

Status KafkaTopicSync::alterTarget(const std::string& topic, const std::map<std::string, std::string>& set,
                                   const std::vector<std::string>& removed) {
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [name, value] : set) {
    rd_kafka_error_t* error = rd_kafka_ConfigResource_add_incremental_config(
        resource, name.c_str(), RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET, value.c_str());
    if (error != nullptr) rd_kafka_error_destroy(error);
  }
  for (const auto& name : removed) {
    rd_kafka_error_t* error = rd_kafka_ConfigResource_add_incremental_config(
        resource, name.c_str(), RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE, nullptr);
    if (error != nullptr) rd_kafka_error_destroy(error);
  }
  Status altered = kafka_admin::request(
      target_, "altering the configs of topic \"" + topic + "\" on the target cluster",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_IncrementalAlterConfigs(target_, &resource, 1, options, queue);
      },
      [](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_ConfigResource_t** resources = rd_kafka_IncrementalAlterConfigs_result_resources(
            rd_kafka_event_IncrementalAlterConfigs_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (rd_kafka_ConfigResource_error(resources[i])) return rd_kafka_ConfigResource_error_string(resources[i]);
        }
        return "";
      },
      &cancelled_);
  rd_kafka_ConfigResource_destroy(resource);
  return altered;
}

Status KafkaTopicSync::syncConfigsOf(const std::string& targetTopic) {
  const std::string& prefix = options_.prefix;
  std::string source = targetTopic.rfind(prefix, 0) == 0 ? targetTopic.substr(prefix.size()) : targetTopic;
  auto wanted = topicConfigs(source_, source);
  if (!wanted.isOk()) return wanted.status().withContext("source cluster");
  auto current = topicConfigs(target_, targetTopic);
  if (!current.isOk()) return current.status().withContext("target cluster");
  std::map<std::string, std::string> set;
  std::vector<std::string> removed;
  for (const auto& [name, value] : *wanted) {
    auto have = current->find(name);
    if (have == current->end() || have->second != value) set[name] = value;
  }
  // A config taken off A's topic goes back to B's default too.
  for (const auto& [name, value] : *current) {
    if (!wanted->contains(name)) removed.push_back(name);
  }
  if (set.empty() && removed.empty()) return Status::ok();
  SLUICE_LOG_INFO("mirror: topic \"{}\" on the target follows its source's configs ({} set, {} removed)", targetTopic,
                  set.size(), removed.size());
  return alterTarget(targetTopic, set, removed);
}

Status KafkaTopicSync::syncConfigs() {
  std::lock_guard lock(mu_);
  Status first = Status::ok();
  for (const auto& topic : known_) {
    if (cancelled_) break;
    Status synced = syncConfigsOf(topic);
    if (!synced.isOk() && first.isOk()) first = synced.withContext("topic \"" + topic + "\"");
    // A cluster that does not answer would make each further topic wait out the timeout too.
    if (synced.code() == StatusCode::kDeadlineExceeded) break;
  }
  return first;
}

}  // namespace sluice::runtime
