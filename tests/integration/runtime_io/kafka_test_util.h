// Helpers for runtime integration tests against the real Kafka from
// build/testenv.env: required env vars, topic creation (librdkafka admin
// API), producing test messages and reading a topic back, and the config of
// a Python Function between two topics.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/event.h"

namespace sluice::testing {

// The value of env var `name`; aborts the test binary with a clear message if unset.
std::string requiredEnv(const std::string& name);

// A name unique to this run: prefix-<pid>-<time>-<counter>.
std::string uniqueName(const std::string& prefix);

// Topic-level settings (retention.bytes, segment.bytes, ...) of a new topic.
using TopicConfig = std::map<std::string, std::string>;

void createTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                 const TopicConfig& config = {});

// Raises `topic`'s partition count to `partitions` (CreatePartitions).
void growTopic(const std::string& bootstrap, const std::string& topic, int partitions);

// `topic`'s partition count; 0 when it does not exist.
int partitionCountOf(const std::string& bootstrap, const std::string& topic);

// The configs set on `topic` itself (DescribeConfigs entries from DYNAMIC_TOPIC_CONFIG).
TopicConfig topicConfigsSetOn(const std::string& bootstrap, const std::string& topic);

// Sets one config on `topic` (IncrementalAlterConfigs, SET).
void setTopicConfig(const std::string& bootstrap, const std::string& topic, const std::string& name,
                    const std::string& value);

struct TestMessage {
  std::string key;
  std::string value;
  runtime::Headers headers;
};
// Extra librdkafka properties of a test client (security settings).
using KafkaProperties = std::map<std::string, std::string>;

// Properties for the test cluster's SASL_SSL listener (KAFKA_SASL_SSL_BOOTSTRAP):
// SCRAM user and CA from build/testenv.env.
KafkaProperties saslSslProperties();

// Produces and waits for every delivery report (acks=all).
void produceAll(const std::string& bootstrap, const std::string& topic, const std::vector<TestMessage>& messages,
                const KafkaProperties& properties = {});

struct ConsumedRecord {
  std::string key;
  std::string value;
  runtime::Headers headers;
  int32_t partition;
  int64_t offset;
};
// Writes the runtime config of Python Function `name` into `dir`: `handlerCode`
// as dir/code/index.py (main_handler), trigger "orders" reading topic `in` as
// consumer group `group` from the earliest offset, output "out" to topic `out`.
// Returns the config's path (dir/function.json).
std::string writeKafkaPythonFunction(const std::string& dir, const std::string& name, const std::string& handlerCode,
                                     const std::string& bootstrap, const std::string& in, const std::string& out,
                                     const std::string& group,
                                     const nlohmann::json& properties = nlohmann::json::object());

// Reads `topic` from the beginning until `expected` records arrived and then
// `settle` passes without new ones, or `timeout` passes.
std::vector<ConsumedRecord> consumeAll(const std::string& bootstrap, const std::string& topic, size_t expected,
                                       std::chrono::milliseconds settle, std::chrono::milliseconds timeout,
                                       const KafkaProperties& properties = {});

// Creates or changes (password non-empty) or deletes (password empty) the
// SCRAM-SHA-512 credentials of `user` (AlterUserScramCredentials); waits for the broker's answer.
void setScramUser(const std::string& bootstrap, const std::string& user, const std::string& password);

// The sum of consumer group `group`'s committed offsets on partitions
// 0..partitions-1 of `topic` (a partition with no commit counts 0).
int64_t committedOffsetSum(const std::string& bootstrap, const std::string& group, const std::string& topic,
                           int partitions);

// Polls `condition` (every 200 ms at most) until it holds; false once `timeout` passed.
bool waitUntil(std::chrono::seconds timeout, const std::function<bool()>& condition);

// Consumer group `group`'s committed offset on each of `partitions` of `topic` (-1: none yet).
std::vector<int64_t> committedOffsets(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                      const std::vector<int32_t>& partitions);

// What the group coordinator says of consumer group `group` (DescribeConsumerGroups).
struct GroupMember {
  std::string clientId;
  std::vector<int32_t> partitions;  // assigned
};
struct GroupState {
  std::string error;    // the coordinator did not answer (e.g. still loading): nothing else is known
  bool stable = false;  // no rebalance under way
  std::vector<GroupMember> members;
  // Stable, with `members` members that each have partitions, `partitions` in all.
  bool settled(size_t members, int partitions) const;
  // The partitions of the member named `clientId` (none when there is no such member).
  std::vector<int32_t> partitionsOf(const std::string& clientId) const;
};
// A failed request is an answer (GroupState::error), not an exception, so a
// caller polling for a settled group just asks again.
GroupState describeGroup(const std::string& bootstrap, const std::string& group);

}  // namespace sluice::testing
