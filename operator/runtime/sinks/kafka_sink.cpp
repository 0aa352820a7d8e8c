#include "runtime/sinks/kafka_sink.h"

#include <chrono>
#include <utility>

#include "common/logging.h"
#include "runtime/sources/kafka_client.h"

namespace sluice::runtime {

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
  auto conf = makeKafkaConf(properties);
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
    while (!raw->stop_) raw->producer_->poll(50);
  });
  return sink;
}

KafkaSink::~KafkaSink() {
  if (producer_) producer_->flush(10000);
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (producer_) producer_->poll(0);
  topic_.reset();
  producer_.reset();
}

void KafkaSink::write(Record record, WriteCallback done) {
  auto* callback = new WriteCallback(std::move(done));
  RdKafka::Headers* headers = nullptr;
  if (!record.headers.empty()) {
    headers = RdKafka::Headers::create();
    for (const auto& [key, value] : record.headers) headers->add(key, value.data(), value.size());
  }
  int32_t partition = record.partition.value_or(RdKafka::Topic::PARTITION_UA);
  const std::string* key = record.key ? &*record.key : nullptr;
  while (true) {
    RdKafka::ErrorCode err = producer_->produce(options_.topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                                record.value.data(), record.value.size(), key ? key->data() : nullptr,
                                                key ? key->size() : 0, 0, headers, callback);
    if (err == RdKafka::ERR_NO_ERROR) return;  // librdkafka now owns the headers
    if (err == RdKafka::ERR__QUEUE_FULL) {
      // The local queue is full: wait for delivery reports to make room.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    delete headers;
    std::unique_ptr<WriteCallback> owned(callback);
    (*owned)(unavailable("kafka output \"" + options_.topic + "\": produce: " + RdKafka::err2str(err)));
    return;
  }
}

void KafkaSink::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<WriteCallback> callback(static_cast<WriteCallback*>(message.msg_opaque()));
  if (!callback) return;
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    (*callback)(Status::ok());
  } else {
    (*callback)(unavailable("kafka output \"" + options_.topic + "\" partition " + std::to_string(message.partition()) +
                            ": " + message.errstr()));
  }
}

Status KafkaSink::flush(Clock::TimePoint deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
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
