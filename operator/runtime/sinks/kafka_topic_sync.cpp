#include "runtime/sinks/kafka_topic_sync.h"

#include <algorithm>
#include <utility>

namespace sluice::runtime {

namespace {

constexpr int kTimeoutMs = 15000;

// An admin client of one cluster (librdkafka's admin API runs on any client type).
Result<rd_kafka_t*> makeClient(const std::map<std::string, std::string>& properties, const std::string& what) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char text[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), text, sizeof text) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalidArgument(what + ": property \"" + key + "\": " + text);
    }
  }
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, text, sizeof text);
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new owns it only on success
    return invalidArgument(what + ": " + text);
  }
  return client;
}

// Runs one admin request: `start(options, queue)` sends it, `read(event)` reads
// the answer and returns the failure ("" for none).
template <typename Start, typename Read>
Status adminRequest(rd_kafka_t* client, const std::string& what, Start start, Read read) {
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ANY);
  char error[256];
  rd_kafka_AdminOptions_set_request_timeout(options, kTimeoutMs, error, sizeof error);
  start(options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kTimeoutMs + 5000);
  std::string failure;
  if (event == nullptr) {
    failure = "no answer within " + std::to_string(kTimeoutMs / 1000) + " s";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    failure = read(event);
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  return failure.empty() ? Status::ok() : unavailable(what + ": " + failure);
}

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

Result<std::map<std::string, std::string>> KafkaTopicSync::topicConfigs(const std::string& topic) {
  std::map<std::string, std::string> configs;
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Status described = adminRequest(
      source_, "configs of topic \"" + topic + "\"",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_DescribeConfigs(source_, &resource, 1, options, queue);
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
      });
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
  Status created = adminRequest(
      target_, "creating topic \"" + topic + "\" on the target cluster",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreateTopics(target_, &newTopic, 1, options, queue);
      },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        return topicResultError(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
      });
  rd_kafka_NewTopic_destroy(newTopic);
  return created;
}

Status KafkaTopicSync::growTarget(const std::string& topic, int32_t partitions) {
  char error[512];
  rd_kafka_NewPartitions_t* grow = rd_kafka_NewPartitions_new(topic.c_str(), partitions, error, sizeof error);
  if (grow == nullptr) return invalidArgument("growing topic \"" + topic + "\": " + error);
  Status grown = adminRequest(
      target_, "growing topic \"" + topic + "\" to " + std::to_string(partitions) + " partitions on the target cluster",
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreatePartitions(target_, &grow, 1, options, queue);
      },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &count);
        return topicResultError(results, count, RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
      });
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
      auto read = topicConfigs(source);
      if (!read.isOk()) return read.status().withContext("source cluster");
      configs = std::move(read).value();
    }
    if (Status created = createTarget(targetTopic, want, configs); !created.isOk()) return created;
    return want;
  }
  if (*targetCount >= want) return *targetCount;
  if (Status grown = growTarget(targetTopic, want); !grown.isOk()) return grown;
  return want;
}

}  // namespace sluice::runtime
