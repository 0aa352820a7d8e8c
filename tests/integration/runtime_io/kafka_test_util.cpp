#include "kafka_test_util.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime_process.h"

namespace sluice::testing {

using nlohmann::json;

std::string requiredEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    std::cerr << "FATAL: environment variable " << name
              << " is not set; source build/testenv.env (make testenv-up) before running integration tests\n";
    std::abort();
  }
  return value;
}

std::string uniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count()) +
         "-" + std::to_string(counter++);
}

namespace {

// Runs one admin request on a short-lived client: `submit` sends it to the queue, and `errorOf`
// reads the per-item error out of the result event ("" when every item succeeded). Returns the
// failure, "" on success.
std::string adminRequest(const std::string& bootstrap,
                         const std::function<void(rd_kafka_t*, rd_kafka_queue_t*)>& submit,
                         const std::function<std::string(rd_kafka_event_t*)>& errorOf) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof(error));
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (client == nullptr) throw std::runtime_error(std::string("rd_kafka_new: ") + error);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  submit(client, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  std::string failure;
  if (event == nullptr) {
    failure = "timed out";
  } else if (rd_kafka_event_error(event)) {
    failure = rd_kafka_event_error_string(event);
  } else {
    failure = errorOf(event);
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(client);
  return failure;
}

}  // namespace

void createTopic(const std::string& bootstrap, const std::string& topic, int partitions, const TopicConfig& config) {
  char error[512];
  rd_kafka_NewTopic_t* newTopic = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error, sizeof(error));
  if (newTopic == nullptr) throw std::runtime_error("creating topic " + topic + ": " + error);
  for (const auto& [name, value] : config) {
    if (rd_kafka_NewTopic_set_config(newTopic, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(newTopic);
      throw std::runtime_error("creating topic " + topic + ": bad config " + name + "=" + value);
    }
  }
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) { rd_kafka_CreateTopics(client, &newTopic, 1, nullptr, queue); },
      [](rd_kafka_event_t* event) {
        std::string found;
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (rd_kafka_topic_result_error(results[i])) found = rd_kafka_topic_result_error_string(results[i]);
        }
        return found;
      });
  rd_kafka_NewTopic_destroy(newTopic);
  if (!failure.empty()) throw std::runtime_error("creating topic " + topic + ": " + failure);
}

void growTopic(const std::string& bootstrap, const std::string& topic, int partitions) {
  char error[512];
  rd_kafka_NewPartitions_t* grow = rd_kafka_NewPartitions_new(topic.c_str(), partitions, error, sizeof(error));
  if (grow == nullptr) throw std::runtime_error("growing topic " + topic + ": " + error);
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) { rd_kafka_CreatePartitions(client, &grow, 1, nullptr, queue); },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (rd_kafka_topic_result_error(results[i]))
            return std::string(rd_kafka_topic_result_error_string(results[i]));
        }
        return std::string();
      });
  rd_kafka_NewPartitions_destroy(grow);
  if (!failure.empty()) throw std::runtime_error("growing topic " + topic + ": " + failure);
}

int partitionCountOf(const std::string& bootstrap, const std::string& topic) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  if (!client) throw std::runtime_error("metadata client: " + error);
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(client.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (client->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("metadata of " + topic + " failed");
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const RdKafka::TopicMetadata* found : *metadata->topics()) {
    if (found->topic() == topic && found->err() == RdKafka::ERR_NO_ERROR) {
      return static_cast<int>(found->partitions()->size());
    }
  }
  return 0;
}

TopicConfig topicConfigsSetOn(const std::string& bootstrap, const std::string& topic) {
  TopicConfig configs;
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) {
        rd_kafka_DescribeConfigs(client, &resource, 1, nullptr, queue);
      },
      [&](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_ConfigResource_t** resources =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          size_t entries = 0;
          const rd_kafka_ConfigEntry_t** entry = rd_kafka_ConfigResource_configs(resources[i], &entries);
          for (size_t e = 0; e < entries; ++e) {
            if (rd_kafka_ConfigEntry_source(entry[e]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
              configs[rd_kafka_ConfigEntry_name(entry[e])] = rd_kafka_ConfigEntry_value(entry[e]);
            }
          }
        }
        return std::string();
      });
  rd_kafka_ConfigResource_destroy(resource);
  if (!failure.empty()) throw std::runtime_error("configs of topic " + topic + ": " + failure);
  return configs;
}

void setTopicConfig(const std::string& bootstrap, const std::string& topic, const std::string& name,
                    const std::string& value) {
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_error_t* bad = rd_kafka_ConfigResource_add_incremental_config(
      resource, name.c_str(), RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET, value.c_str());
  if (bad != nullptr) {
    std::string message = rd_kafka_error_string(bad);
    rd_kafka_error_destroy(bad);
    rd_kafka_ConfigResource_destroy(resource);
    throw std::runtime_error("config " + name + " of topic " + topic + ": " + message);
  }
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) {
        rd_kafka_IncrementalAlterConfigs(client, &resource, 1, nullptr, queue);
      },
      [](rd_kafka_event_t* event) {
        size_t count = 0;
        const rd_kafka_ConfigResource_t** resources = rd_kafka_IncrementalAlterConfigs_result_resources(
            rd_kafka_event_IncrementalAlterConfigs_result(event), &count);
        for (size_t i = 0; i < count; ++i) {
          if (rd_kafka_ConfigResource_error(resources[i]))
            return std::string(rd_kafka_ConfigResource_error_string(resources[i]));
        }
        return std::string();
      });
  rd_kafka_ConfigResource_destroy(resource);
  if (!failure.empty()) throw std::runtime_error("altering configs of topic " + topic + ": " + failure);
}

void setScramUser(const std::string& bootstrap, const std::string& user, const std::string& password) {
  // A salt of our own: librdkafka generates one only when built with OpenSSL >= 1.1.1.
  std::string salt = "sluice-test-salt-" + user;
  rd_kafka_UserScramCredentialAlteration_t* alteration =
      password.empty() ? rd_kafka_UserScramCredentialDeletion_new(user.c_str(), RD_KAFKA_SCRAM_MECHANISM_SHA_512)
                       : rd_kafka_UserScramCredentialUpsertion_new(
                             user.c_str(), RD_KAFKA_SCRAM_MECHANISM_SHA_512, 4096,
                             reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                             reinterpret_cast<const unsigned char*>(salt.data()), salt.size());
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) {
        rd_kafka_AlterUserScramCredentials(client, &alteration, 1, nullptr, queue);
      },
      [](rd_kafka_event_t* event) {
        std::string found;
        size_t count = 0;
        const rd_kafka_AlterUserScramCredentials_result_response_t** responses =
            rd_kafka_AlterUserScramCredentials_result_responses(rd_kafka_event_AlterUserScramCredentials_result(event),
                                                                &count);
        for (size_t i = 0; i < count; ++i) {
          const rd_kafka_error_t* err = rd_kafka_AlterUserScramCredentials_result_response_error(responses[i]);
          if (err != nullptr && rd_kafka_error_code(err) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            found = rd_kafka_error_string(err);
          }
        }
        return found;
      });
  rd_kafka_UserScramCredentialAlteration_destroy(alteration);
  if (!failure.empty()) throw std::runtime_error("SCRAM credentials of " + user + ": " + failure);
}

KafkaProperties saslSslProperties() {
  return {{"security.protocol", "SASL_SSL"},
          {"sasl.mechanisms", requiredEnv("KAFKA_SASL_MECHANISM")},
          {"sasl.username", requiredEnv("KAFKA_SASL_USERNAME")},
          {"sasl.password", requiredEnv("KAFKA_SASL_PASSWORD")},
          {"ssl.ca.location", requiredEnv("KAFKA_SSL_CA_FILE")}};
}

namespace {

void setAll(RdKafka::Conf& conf, const KafkaProperties& properties) {
  std::string error;
  for (const auto& [key, value] : properties) {
    if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) throw std::runtime_error(key + ": " + error);
  }
}

}  // namespace

void produceAll(const std::string& bootstrap, const std::string& topic, const std::vector<TestMessage>& messages,
                const KafkaProperties& properties) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  setAll(*conf, properties);
  conf->set("enable.idempotence", "true", error);
  conf->set("linger.ms", "20", error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) throw std::runtime_error("producer: " + error);
  for (const TestMessage& m : messages) {
    RdKafka::Headers* headers = nullptr;
    if (!m.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [k, v] : m.headers) headers->add(k, v.data(), v.size());
    }
    while (true) {
      auto err = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   const_cast<char*>(m.value.data()), m.value.size(), m.key.data(), m.key.size(), 0,
                                   headers, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error("produce: " + RdKafka::err2str(err));
      producer->poll(10);
    }
    producer->poll(0);
  }
  if (producer->flush(60000) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("flush timed out");
}

std::string writeKafkaPythonFunction(const std::string& dir, const std::string& name, const std::string& handlerCode,
                                     const std::string& bootstrap, const std::string& in, const std::string& out,
                                     const std::string& group, const json& properties) {
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", handlerCode);
  json config = {
      {"name", name},
      {"runtime", "python3.11"},
      {"codeDir", dir + "/code"},
      {"handler", "index.main_handler"},
      {"outputs", json::array({{{"name", "out"}, {"kafka", {{"bootstrapServers", bootstrap}, {"topic", out}}}}})},
      {"triggers", json::array({{{"name", "orders"},
                                 {"kafka",
                                  {{"bootstrapServers", bootstrap},
                                   {"topics", json::array({in})},
                                   {"consumerGroup", group},
                                   {"initialOffset", "earliest"}}}}})}};
  if (!properties.empty()) config["triggers"][0]["kafka"]["properties"] = properties;
  std::string path = dir + "/function.json";
  writeFile(path, config.dump(2));
  return path;
}

std::vector<ConsumedRecord> consumeAll(const std::string& bootstrap, const std::string& topic, size_t expected,
                                       std::chrono::milliseconds settle, std::chrono::milliseconds timeout,
                                       const KafkaProperties& properties) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  setAll(*conf, properties);
  conf->set("group.id", uniqueName("reader"), error);
  conf->set("auto.offset.reset", "earliest", error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::runtime_error("consumer: " + error);
  consumer->subscribe({topic});
  std::vector<ConsumedRecord> records;
  auto start = std::chrono::steady_clock::now();
  auto lastRecord = start;
  while (std::chrono::steady_clock::now() - start < timeout) {
    if (records.size() >= expected && std::chrono::steady_clock::now() - lastRecord >= settle) break;
    std::unique_ptr<RdKafka::Message> message(consumer->consume(200));
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    ConsumedRecord record;
    if (message->key()) record.key = *message->key();
    record.value.assign(static_cast<const char*>(message->payload()), message->len());
    if (auto* headers = message->headers()) {
      for (const auto& h : headers->get_all()) {
        record.headers.emplace_back(h.key(), std::string(static_cast<const char*>(h.value()), h.value_size()));
      }
    }
    record.partition = message->partition();
    record.offset = message->offset();
    records.push_back(std::move(record));
    lastRecord = std::chrono::steady_clock::now();
  }
  consumer->close();
  return records;
}

int64_t committedOffsetSum(const std::string& bootstrap, const std::string& group, const std::string& topic,
                           int partitions) {
  std::vector<int32_t> all(partitions);
  std::iota(all.begin(), all.end(), 0);
  int64_t sum = 0;
  for (int64_t offset : committedOffsets(bootstrap, group, topic, all)) sum += std::max<int64_t>(offset, 0);
  return sum;
}

std::vector<int64_t> committedOffsets(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                      const std::vector<int32_t>& partitions) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  // Only asks the coordinator for the group's offsets: never subscribes, so never joins the group.
  conf->set("group.id", group, error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::runtime_error("consumer: " + error);
  std::vector<RdKafka::TopicPartition*> offsets;
  offsets.reserve(partitions.size());
  for (int32_t p : partitions) offsets.push_back(RdKafka::TopicPartition::create(topic, p));
  RdKafka::ErrorCode err = consumer->committed(offsets, 10000);
  std::vector<int64_t> result;
  result.reserve(offsets.size());
  for (RdKafka::TopicPartition* tp : offsets) result.push_back(tp->offset() >= 0 ? tp->offset() : -1);
  RdKafka::TopicPartition::destroy(offsets);
  consumer->close();
  if (err != RdKafka::ERR_NO_ERROR) throw std::runtime_error("committed offsets: " + RdKafka::err2str(err));
  return result;
}

bool waitUntil(std::chrono::seconds timeout, const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

bool GroupState::settled(size_t memberCount, int partitions) const {
  size_t assigned = 0;
  for (const GroupMember& member : members) {
    if (member.partitions.empty()) return false;
    assigned += member.partitions.size();
  }
  return error.empty() && stable && members.size() == memberCount && assigned == static_cast<size_t>(partitions);
}

std::vector<int32_t> GroupState::partitionsOf(const std::string& clientId) const {
  for (const GroupMember& member : members) {
    if (member.clientId == clientId) return member.partitions;
  }
  return {};
}

GroupState describeGroup(const std::string& bootstrap, const std::string& group) {
  GroupState state;
  const char* groups[] = {group.c_str()};
  std::string failure = adminRequest(
      bootstrap,
      [&](rd_kafka_t* client, rd_kafka_queue_t* queue) {
        rd_kafka_DescribeConsumerGroups(client, groups, 1, nullptr, queue);
      },
      [&](rd_kafka_event_t* event) -> std::string {
        size_t count = 0;
        const rd_kafka_ConsumerGroupDescription_t** descriptions =
            rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(event), &count);
        if (count != 1) return "no description of the group";
        const rd_kafka_ConsumerGroupDescription_t* description = descriptions[0];
        if (const rd_kafka_error_t* err = rd_kafka_ConsumerGroupDescription_error(description)) {
          return rd_kafka_error_string(err);
        }
        state.stable = rd_kafka_ConsumerGroupDescription_state(description) == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE;
        for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(description); ++i) {
          const rd_kafka_MemberDescription_t* member = rd_kafka_ConsumerGroupDescription_member(description, i);
          std::vector<int32_t>& assigned =
              state.members.emplace_back(GroupMember{rd_kafka_MemberDescription_client_id(member), {}}).partitions;
          const rd_kafka_topic_partition_list_t* partitions =
              rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(member));
          for (int j = 0; partitions != nullptr && j < partitions->cnt; ++j) {
            assigned.push_back(partitions->elems[j].partition);
          }
        }
        return "";
      });
  if (!failure.empty()) {
    state = GroupState{};
    state.error = "describing group " + group + ": " + failure;
  }
  return state;
}

}  // namespace sluice::testing
