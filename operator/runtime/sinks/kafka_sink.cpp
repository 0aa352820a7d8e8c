#include "runtime/sinks/kafka_sink.h"

#include <chrono>
#include <utility>
#include <vector>

#include "clients/kafka_client.h"
#include "common/logging.h"

namespace sluice::runtime {

namespace {
// While unhealthy, how often the poller asks the broker whether the topic is usable again.
constexpr std::chrono::seconds kProbeInterval{3};
constexpr int kProbeTimeoutMs = 2000;
}  // namespace

KafkaSink::KafkaSink(KafkaSinkOptions options)
    : options_(std::move(options)),
      events_("kafka output \"" + options_.topic + "\"",
              [this](RdKafka::ErrorCode code, const std::string& text, bool fatal) {
                if (fatal || clients::kafkaErrorIsUnusable(code)) markUnusable(code, text, fatal);
              }) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::create(KafkaSinkOptions options) {
  if (options.topic.empty()) return invalidArgument("kafka output: topic is empty");
  std::unique_ptr<KafkaSink> sink(new KafkaSink(std::move(options)));
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", sink->options_.bootstrapServers},
      {"client.id", "sluice-runtime"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
  };
  for (const auto& [key, value] : sink->options_.properties) properties[key] = value;
  // Durability is the point of this sink: refuse overrides that weaken it.
  if (properties["acks"] != "all" && properties["acks"] != "-1") {
    return invalidArgument("kafka output \"" + sink->options_.topic + "\": property \"acks\" must be all, not \"" +
                           properties["acks"] + "\"");
  }
  auto conf = clients::makeKafkaConf(properties);
  if (!conf.isOk()) return conf.status().withContext("kafka output \"" + sink->options_.topic + "\"");
  std::string error;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(sink.get()), error) != RdKafka::Conf::CONF_OK) {
    return internalError("kafka delivery callback: " + error);
  }
  if (Status attached = sink->events_.attachTo(**conf); !attached.isOk()) return attached;
  sink->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!sink->producer_) return invalidArgument("kafka output \"" + sink->options_.topic + "\": " + error);
  std::unique_ptr<RdKafka::Conf> topicConf(RdKafka::Conf::create(RdKafka::Conf::CONF_TOPIC));
  sink->topic_.reset(RdKafka::Topic::create(sink->producer_.get(), sink->options_.topic, topicConf.get(), error));
  if (!sink->topic_) return invalidArgument("kafka output \"" + sink->options_.topic + "\": " + error);
  KafkaSink* raw = sink.get();
  sink->poller_ = std::thread([raw] {
    const Clock& clock = *raw->options_.clock;
    auto nextProbe = clock.now();
    while (!raw->stop_) {
      raw->producer_->poll(50);
      if (raw->unhealthy_.load() && clock.now() >= nextProbe) {
        raw->probe();
        nextProbe = clock.now() + kProbeInterval;
      }
    }
  });
  return sink;
}

KafkaSink::~KafkaSink() {
  options_.mirrorSync.reset();
  if (producer_) producer_->flush(10000);
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (producer_) producer_->poll(0);
  topic_.reset();
  producer_.reset();
}

// One writeBatch() call in flight: a slot per record is the opaque of its
// delivery report; the last report frees the whole thing.
struct KafkaSink::BatchWrite {
  struct Slot {
    BatchWrite* batch;
    uint32_t index;
    int64_t sourceOffset;  // a mirror's record: where it was read on the source (-1: not a mirror's)
    std::chrono::system_clock::time_point sourceTime;
  };
  std::shared_ptr<WriteListener> listener;
  std::atomic<size_t> left{0};
  std::vector<Slot> slots;

  void release() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

namespace {

// write() of one record with its own callback, through writeBatch().
struct CallbackListener final : WriteListener {
  std::vector<Record> records;
  WriteCallback done;
  void written(uint32_t, const Status& status) override { done(status); }
};

}  // namespace

void KafkaSink::write(Record record, WriteCallback done) {
  auto listener = std::make_shared<CallbackListener>();
  listener->records.push_back(std::move(record));
  listener->done = std::move(done);
  const std::vector<Record>& records = listener->records;
  writeBatch(records, {0}, std::move(listener));
}

void KafkaSink::writeBatch(const std::vector<Record>& records, const std::vector<uint32_t>& indexes,
                           std::shared_ptr<WriteListener> listener) {
  if (indexes.empty()) return;
  auto* batch = new BatchWrite;
  batch->listener = std::move(listener);
  batch->left = indexes.size() + 1;  // +1 held by this loop, so a fast report cannot free it under us
  batch->slots.reserve(indexes.size());
  const bool syncs = options_.offsetSyncs != nullptr;
  for (uint32_t index : indexes) {
    const Record& record = records[index];
    batch->slots.push_back({batch, index, syncs ? record.sourceOffset : -1, record.sourceTime});
  }
  for (BatchWrite::Slot& slot : batch->slots) {
    const Record& record = records[slot.index];
    if (!record.topic.empty() && options_.topicSync) {
      if (Status ready = syncTopic(record.topic, record.partition.value_or(-1)); !ready.isOk()) {
        batch->listener->written(slot.index, ready);
        batch->release();
        continue;
      }
    }
    RdKafka::Headers* headers = nullptr;
    if (!record.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [key, value] : record.headers) headers->add(key, value.data(), value.size());
    }
    int32_t partition = record.partition.value_or(RdKafka::Topic::PARTITION_UA);
    const std::string* key = record.key ? &*record.key : nullptr;
    const std::string& topic = record.topic.empty() ? options_.topic : record.topic;
    while (true) {
      RdKafka::ErrorCode err = producer_->produce(
          topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(record.value.data()), record.value.size(),
          key ? key->data() : nullptr, key ? key->size() : 0, 0, headers, &slot);
      if (err == RdKafka::ERR_NO_ERROR) break;  // librdkafka now owns the headers
      if (err == RdKafka::ERR__QUEUE_FULL) {
        // The local queue is full: wait for delivery reports to make room.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      delete headers;
      batch->listener->written(slot.index,
                               unavailable("kafka output \"" + topic + "\": produce: " + RdKafka::err2str(err)));
      batch->release();
      break;
    }
  }
  batch->release();
}

Status KafkaSink::syncTopic(const std::string& topic, int32_t partition) {
  std::lock_guard lock(syncMu_);
  auto known = synced_.find(topic);
  if (known != synced_.end() && partition < known->second) return Status::ok();
  auto count = options_.topicSync->ensure(topic, partition + 1);
  if (!count.isOk()) return count.status().withContext("kafka output topic \"" + topic + "\"");
  synced_[topic] = *count;
  // A fresh metadata answer, so the producer knows a new topic or partition before the record is queued.
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (handle && producer_->metadata(false, handle.get(), &raw, kProbeTimeoutMs) == RdKafka::ERR_NO_ERROR) delete raw;
  return Status::ok();
}

void KafkaSink::dr_cb(RdKafka::Message& message) {
  auto* slot = static_cast<BatchWrite::Slot*>(message.msg_opaque());
  if (slot == nullptr) return;
  BatchWrite* batch = slot->batch;
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    if (unhealthy_.load()) markUsable();
    if (slot->sourceOffset >= 0) addOffsetSync(message, slot->sourceOffset, slot->sourceTime);
    batch->listener->written(slot->index, Status::ok());
  } else {
    // Mark first, so the delivery loop sees the sink unhealthy when it hears of the failure.
    if (clients::kafkaErrorIsUnusable(message.err())) markUnusable(message.err(), message.errstr(), false);
    batch->listener->written(slot->index, unavailable("kafka output \"" + message.topic_name() + "\" partition " +
                                                      std::to_string(message.partition()) + ": " + message.errstr()));
  }
  batch->release();
}

void KafkaSink::addOffsetSync(const RdKafka::Message& message, int64_t sourceOffset,
                              std::chrono::system_clock::time_point sourceTime) {
  std::string topic = message.topic_name();
  const std::string& prefix = options_.sourcePrefix;
  if (!prefix.empty() && topic.rfind(prefix, 0) == 0) topic.erase(0, prefix.size());
  options_.offsetSyncs->delivered({std::move(topic), message.partition()}, sourceOffset, message.offset(), sourceTime);
}

void KafkaSink::markUnusable(RdKafka::ErrorCode code, const std::string& detail, bool fatal) {
  std::string cause = RdKafka::err2str(code);
  std::string message = "kafka output \"" + options_.topic + "\" (bootstrap " + options_.bootstrapServers +
                        ") cannot be written: " + cause + (detail.empty() || detail == cause ? "" : ": " + detail);
  if (fatal) message += " (fatal: restart the replica)";
  std::lock_guard lock(healthMu_);
  if (fatal_) return;  // the first fatal cause stays
  bool first = health_.isOk();
  health_ = Status(code == RdKafka::ERR__AUTHENTICATION || code == RdKafka::ERR_SASL_AUTHENTICATION_FAILED
                       ? StatusCode::kUnauthenticated
                       : StatusCode::kFailedPrecondition,
                   message);
  fatal_ = fatal;
  unhealthy_ = true;
  if (first) SLUICE_LOG_ERROR("{}; reporting unhealthy until it works again", message);
}

void KafkaSink::markUsable() {
  std::lock_guard lock(healthMu_);
  if (fatal_ || health_.isOk()) return;
  SLUICE_LOG_INFO("kafka output \"{}\" works again (was: {})", options_.topic, health_.message());
  health_ = Status::ok();
  unhealthy_ = false;
}

void KafkaSink::probe() {
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = producer_->metadata(false, topic_.get(), &raw, kProbeTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  // No answer (the broker is still refusing us, or unreachable): keep the cause we know.
  if (err != RdKafka::ERR_NO_ERROR || !metadata) return;
  for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
    if (topic->topic() != options_.topic) continue;
    if (topic->err() == RdKafka::ERR_NO_ERROR && !topic->partitions()->empty()) {
      markUsable();
    } else if (clients::kafkaErrorIsUnusable(topic->err())) {
      markUnusable(topic->err(), "", false);
    }
    return;
  }
}

Status KafkaSink::health() const {
  if (!unhealthy_.load()) return Status::ok();
  std::lock_guard lock(healthMu_);
  return health_;
}

Status KafkaSink::flush(Clock::TimePoint deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - options_.clock->now());
  int ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
  RdKafka::ErrorCode err = producer_->flush(ms);
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status(StatusCode::kDeadlineExceeded, "kafka output \"" + options_.topic +
                                                     "\": flush: " + RdKafka::err2str(err) + ", " +
                                                     std::to_string(producer_->outq_len()) + " record(s) unconfirmed");
  }
  return Status::ok();
}

}  // namespace sluice::runtime
