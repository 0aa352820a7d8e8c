// The Kafka dead letter of `sluice dlq` (see dlq.h): read from the redrive
// position of the Trigger's redrive group, assigned rather than subscribed, so
// no rebalance and no commit happen unless a redrive makes one. The commit
// goes through librdkafka's C API, the only one that carries its metadata.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "cli/dlq.h"
#include "clients/kafka_client.h"
#include "clients/kafka_publisher.h"

namespace sluice::cli {

namespace {

constexpr int kTimeoutMs = 10000;
// A commit's metadata holds the offsets redriven above the position; brokers keep 4096 bytes by default.
constexpr size_t kMaxMetadata = 4000;
constexpr const char* kMetadataPrefix = "sluice-redriven:";

struct PartitionState {
  int32_t partition = 0;
  int64_t frontier = 0;     // the redrive position: every record below it is redriven
  int64_t end = 0;          // the end when the command started: later records are not looked at
  std::set<int64_t> above;  // records at or above the frontier that were redriven
  bool blocked = false;     // a record kept at or above the frontier stops it moving
  bool finished = false;
};

std::set<int64_t> parseMetadata(const std::string& metadata) {
  std::set<int64_t> out;
  if (metadata.rfind(kMetadataPrefix, 0) != 0) return out;
  std::istringstream parts(metadata.substr(std::strlen(kMetadataPrefix)));
  for (std::string part; std::getline(parts, part, ',');) {
    if (!part.empty()) out.insert(std::strtoll(part.c_str(), nullptr, 10));
  }
  return out;
}

std::string metadataOf(const std::set<int64_t>& above) {
  std::string out = kMetadataPrefix;
  for (int64_t offset : above) out += (out.back() == ':' ? "" : ",") + std::to_string(offset);
  return out;
}

DeadLetter letterOf(RdKafka::Message& message) {
  DeadLetter letter;
  letter.position = std::to_string(message.partition()) + "/" + std::to_string(message.offset());
  if (message.key() != nullptr) letter.key = *message.key();
  letter.value.assign(static_cast<const char*>(message.payload()), message.len());
  letter.size = static_cast<int64_t>(message.len());
  if (message.timestamp().type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
    letter.timeMs = message.timestamp().timestamp;
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (RdKafka::Headers* h = message.headers()) {
    for (const RdKafka::Headers::Header& header : h->get_all()) {
      const char* value = static_cast<const char*>(header.value());
      headers.emplace_back(header.key(), value == nullptr ? std::string() : std::string(value, header.value_size()));
    }
  }
  readDeadLetterHeaders(headers, letter);
  return letter;
}

class KafkaDeadLetters final : public DeadLetterStore {
 public:
  KafkaDeadLetters(KafkaEndpoint deadLetter, std::string group)
      : deadLetter_(std::move(deadLetter)), group_(std::move(group)), topic_(deadLetter_.topics.front()) {}

  Result<std::vector<DeadLetter>> list(size_t limit) override { return walk(limit, nullptr, nullptr); }
  Result<std::vector<DeadLetter>> redrive(const std::function<bool(const DeadLetter&)>& chosen,
                                          Reinjector* into) override {
    return walk(0, &chosen, into);
  }

 private:
  Status open() {
    std::map<std::string, std::string> properties = deadLetter_.settings.properties;
    properties["bootstrap.servers"] = deadLetter_.settings.bootstrapServers;
    properties["group.id"] = group_;
    properties["enable.auto.commit"] = "false";
    properties["enable.auto.offset.store"] = "false";
    properties["auto.offset.reset"] = "earliest";
    properties["enable.partition.eof"] = "true";
    auto conf = clients::makeKafkaConf(properties);
    if (!conf.isOk()) return conf.status();
    std::string error;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
    if (!consumer_) return unavailable("kafka consumer: " + error);
    return Status::ok();
  }

  Result<std::vector<int32_t>> partitions() {
    std::string error;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer_.get(), topic_, nullptr, error));
    if (!topic) return unavailable("topic " + topic_ + ": " + error);
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode err = consumer_->metadata(false, topic.get(), &raw, kTimeoutMs);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err != RdKafka::ERR_NO_ERROR) return unavailable("metadata of topic " + topic_ + ": " + RdKafka::err2str(err));
    std::vector<int32_t> out;
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      // A topic nothing was dead-lettered to yet may not exist: it holds no dead letter.
      if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return out;
      if (t->err() != RdKafka::ERR_NO_ERROR) return unavailable("topic " + topic_ + ": " + RdKafka::err2str(t->err()));
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.push_back(p->id());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Each partition's redrive position and the end it has now.
  Result<std::vector<PartitionState>> positions(const std::vector<int32_t>& ids) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(ids.size()));
    for (int32_t id : ids) rd_kafka_topic_partition_list_add(list, topic_.c_str(), id);
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer_->c_ptr(), list, kTimeoutMs);
    std::vector<PartitionState> out;
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      PartitionState state;
      state.partition = p.partition;
      int64_t low = 0;
      RdKafka::ErrorCode werr = consumer_->query_watermark_offsets(topic_, p.partition, &low, &state.end, kTimeoutMs);
      if (werr != RdKafka::ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return unavailable("topic " + topic_ + " partition " + std::to_string(p.partition) + ": " +
                           RdKafka::err2str(werr));
      }
      state.frontier = p.offset >= 0 ? std::max(p.offset, low) : low;
      if (p.offset >= 0 && p.metadata != nullptr) {
        for (int64_t o : parseMetadata(std::string(static_cast<const char*>(p.metadata), p.metadata_size))) {
          if (o >= state.frontier) state.above.insert(o);
        }
      }
      state.finished = state.frontier >= state.end;
      out.push_back(std::move(state));
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unavailable("the redrive position of group " + group_ + ": " + rd_kafka_err2str(err));
    }
    return out;
  }

  Status commit(const PartitionState& state) {
    const std::string metadata = metadataOf(state.above);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(list, topic_.c_str(), state.partition);
    p->offset = state.frontier;
    p->metadata = std::malloc(metadata.size());  // freed with the list
    std::memcpy(p->metadata, metadata.data(), metadata.size());
    p->metadata_size = metadata.size();
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_->c_ptr(), list, /*async=*/0);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unavailable("committing the redrive position of group " + group_ + ": " + rd_kafka_err2str(err));
    }
    return Status::ok();
  }

  // Moves the position over `offset` when nothing below it is kept, else notes it above.
  static void markRedriven(PartitionState& state, int64_t offset) {
    if (state.blocked) {
      state.above.insert(offset);
      return;
    }
    state.frontier = offset + 1;
    state.above.erase(state.above.begin(), state.above.lower_bound(state.frontier));
  }

  // One record of a walk; false when the walk is to stop (the limit reached).
  Result<bool> take(PartitionState& state, RdKafka::Message& message, size_t limit,
                    const std::function<bool(const DeadLetter&)>* chosen, Reinjector* into,
                    std::vector<DeadLetter>& out) {
    const int64_t offset = message.offset();
    if (offset + 1 >= state.end) state.finished = true;
    if (offset >= state.end || offset < state.frontier) return true;
    if (state.above.contains(offset)) {
      if (!state.blocked) markRedriven(state, offset);
      return true;
    }
    DeadLetter letter = letterOf(message);
    if (chosen == nullptr) {
      out.push_back(std::move(letter));
      return limit == 0 || out.size() < limit;
    }
    if (!(*chosen)(letter)) {
      state.blocked = true;
      return true;
    }
    if (into != nullptr) {
      if (state.blocked && metadataOf(state.above).size() + 24 > kMaxMetadata) {
        return Status(StatusCode::kFailedPrecondition,
                      "too many dead letters redriven past ones kept; redrive the earlier ones (--all) first");
      }
      if (Status s = into->reinject(letter); !s.isOk()) return s.withContext("dead letter " + letter.position);
      markRedriven(state, offset);
      if (Status s = commit(state); !s.isOk()) return s;
    }
    out.push_back(std::move(letter));
    return true;
  }

  Result<std::vector<DeadLetter>> walk(size_t limit, const std::function<bool(const DeadLetter&)>* chosen,
                                       Reinjector* into) {
    const std::string where = "spec.delivery.deadLetter.kafka: topic " + topic_;
    if (Status s = open(); !s.isOk()) return s.withContext(where);
    auto ids = partitions();
    if (!ids.isOk()) return ids.status().withContext(where);
    auto states = positions(*ids);
    if (!states.isOk()) return states.status().withContext(where);
    auto result = consume(*states, limit, chosen, into);
    consumer_->close();
    if (!result.isOk()) return result.status().withContext(where);
    std::sort(result->begin(), result->end(), [](const DeadLetter& a, const DeadLetter& b) {
      const auto key = [](const DeadLetter& l) {
        const size_t slash = l.position.find('/');
        return std::pair(std::stoi(l.position.substr(0, slash)), std::stoll(l.position.substr(slash + 1)));
      };
      return key(a) < key(b);
    });
    return result;
  }

  Result<std::vector<DeadLetter>> consume(std::vector<PartitionState>& states, size_t limit,
                                          const std::function<bool(const DeadLetter&)>* chosen, Reinjector* into) {
    std::map<int32_t, PartitionState*> byId;
    std::vector<RdKafka::TopicPartition*> assignment;
    for (PartitionState& s : states) {
      byId[s.partition] = &s;
      if (!s.finished) assignment.push_back(RdKafka::TopicPartition::create(topic_, s.partition, s.frontier));
    }
    std::vector<DeadLetter> out;
    if (assignment.empty()) return out;
    RdKafka::ErrorCode err = consumer_->assign(assignment);
    RdKafka::TopicPartition::destroy(assignment);
    if (err != RdKafka::ERR_NO_ERROR) return unavailable("assign: " + RdKafka::err2str(err));
    auto quietSince = std::chrono::steady_clock::now();
    auto open = [&] { return std::any_of(states.begin(), states.end(), [](auto& s) { return !s.finished; }); };
    while (open()) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(1000));
      if (message->err() == RdKafka::ERR__PARTITION_EOF) {
        byId[message->partition()]->finished = true;
        continue;
      }
      if (message->err() != RdKafka::ERR_NO_ERROR) {
        if (std::chrono::steady_clock::now() - quietSince > std::chrono::milliseconds(3 * kTimeoutMs)) {
          return unavailable("no record for " + std::to_string(3 * kTimeoutMs / 1000) + " s: " + message->errstr());
        }
        continue;
      }
      quietSince = std::chrono::steady_clock::now();
      auto more = take(*byId[message->partition()], *message, limit, chosen, into, out);
      if (!more.isOk()) return more.status();
      if (!*more) break;
    }
    return out;
  }

  KafkaEndpoint deadLetter_;
  std::string group_;
  std::string topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

class KafkaReinjector final : public Reinjector {
 public:
  KafkaReinjector(std::unique_ptr<clients::KafkaPublisher> publisher, std::vector<std::string> topics)
      : publisher_(std::move(publisher)), topics_(std::move(topics)) {}

  Status reinject(const DeadLetter& letter) override {
    clients::KafkaRecord record;
    record.key = letter.key.value_or("");
    record.nullKey = !letter.key.has_value();
    record.headers = letter.headers;
    record.value = letter.value;
    return publisher_->publish(topicOf(letter), record);
  }

 private:
  // The topic the record was read from ("kafka:topic/partition/offset") when the Trigger still reads it.
  std::string topicOf(const DeadLetter& letter) const {
    if (letter.source.rfind("kafka:", 0) == 0) {
      const std::string subject = letter.source.substr(6);
      const std::string topic = subject.substr(0, subject.find('/'));
      if (std::find(topics_.begin(), topics_.end(), topic) != topics_.end()) return topic;
    }
    return topics_.front();
  }

  std::unique_ptr<clients::KafkaPublisher> publisher_;
  std::vector<std::string> topics_;
};

}  // namespace

std::unique_ptr<DeadLetterStore> kafkaDeadLetterStore(const KafkaEndpoint& deadLetter, const std::string& group) {
  return std::make_unique<KafkaDeadLetters>(deadLetter, group);
}

Result<std::unique_ptr<Reinjector>> kafkaReinjector(const KafkaEndpoint& source) {
  auto publisher = clients::KafkaPublisher::create(source.settings.bootstrapServers, source.settings.properties,
                                                   std::chrono::seconds(30));
  if (!publisher.isOk()) return publisher.status();
  return std::unique_ptr<Reinjector>(std::make_unique<KafkaReinjector>(std::move(publisher).value(), source.topics));
}

}  // namespace sluice::cli
