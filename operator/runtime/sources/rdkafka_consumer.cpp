#include "runtime/sources/rdkafka_consumer.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"

namespace sluice::runtime {

namespace {

// librdkafka's partition lists, owned: destroyed with the holder.
class TopicPartitions {
 public:
  TopicPartitions() = default;
  explicit TopicPartitions(const std::vector<KafkaPartition>& partitions) {
    list_.reserve(partitions.size());
    for (const KafkaPartition& p : partitions) {
      list_.push_back(RdKafka::TopicPartition::create(p.topic, p.partition, p.offset));
      if (!p.metadata.empty()) {
        std::vector<unsigned char> metadata(p.metadata.begin(), p.metadata.end());
        list_.back()->set_metadata(metadata);
      }
    }
  }
  TopicPartitions(const TopicPartitions&) = delete;
  TopicPartitions& operator=(const TopicPartitions&) = delete;
  ~TopicPartitions() { RdKafka::TopicPartition::destroy(list_); }
  std::vector<RdKafka::TopicPartition*>& list() { return list_; }

 private:
  std::vector<RdKafka::TopicPartition*> list_;
};

std::vector<KafkaPartition> partitionsOf(const std::vector<RdKafka::TopicPartition*>& list) {
  std::vector<KafkaPartition> partitions;
  partitions.reserve(list.size());
  for (RdKafka::TopicPartition* tp : list) {
    std::vector<unsigned char> metadata = tp->get_metadata();
    partitions.push_back(
        {tp->topic(), tp->partition(), tp->offset(), "", std::string(metadata.begin(), metadata.end())});
  }
  return partitions;
}

}  // namespace

RdKafkaConsumer::RdKafkaConsumer(std::string owner)
    : owner_(std::move(owner)), events_(std::make_unique<clients::KafkaEventLog>(owner_)) {}

RdKafkaConsumer::~RdKafkaConsumer() {
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
  if (abandoned_) {
    // Destroying the handle would wait, in librdkafka, for the group's
    // deferred commits to time out (session.timeout.ms): the process that
    // abandons a member is about to exit. Its threads keep logging through
    // events_ until then, so that leaks with it; nothing polls for the
    // callbacks bound to this object any more.
    (void)consumer_.release();
    (void)events_.release();
  }
}

Status RdKafkaConsumer::open(const std::map<std::string, std::string>& properties,
                             const std::vector<std::string>& topics, KafkaConsumerListener& listener) {
  listener_ = &listener;
  auto conf = clients::makeKafkaConf(properties);
  if (!conf.isOk()) return conf.status();
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error) != RdKafka::Conf::CONF_OK) {
    return internalError("kafka rebalance callback: " + error);
  }
  if ((*conf)->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(this), error) != RdKafka::Conf::CONF_OK) {
    return internalError("kafka offset commit callback: " + error);
  }
  if (Status attached = events_->attachTo(**conf); !attached.isOk()) return attached;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer_) return invalidArgument(error);
  if (auto err = consumer_->subscribe(topics); err != RdKafka::ERR_NO_ERROR) {
    return unavailable("subscribe: " + RdKafka::err2str(err));
  }
  queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
  if (queue_ == nullptr) return internalError("no consumer queue");
  return Status::ok();
}

size_t RdKafkaConsumer::consume(std::vector<KafkaRecord>& records, size_t max, std::chrono::milliseconds timeout) {
  batch_.resize(max);
  ssize_t got = rd_kafka_consume_batch_queue(queue_, static_cast<int>(timeout.count()), batch_.data(), max);
  if (got < 0) {
    SLUICE_LOG_WARN("{}: consume: {}", owner_, rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
  }
  for (ssize_t i = 0; i < got; ++i) {
    rd_kafka_message_t* message = batch_[static_cast<size_t>(i)];
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      records.push_back(recordOf(*message));
    } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      SLUICE_LOG_WARN("{}: consume: {}", owner_, rd_kafka_message_errstr(message));
    }
    rd_kafka_message_destroy(message);
  }
  return static_cast<size_t>(got);
}

KafkaRecord RdKafkaConsumer::recordOf(const rd_kafka_message_t& message) {
  KafkaRecord record;
  record.topic = rd_kafka_topic_name(message.rkt);
  record.partition = message.partition;
  record.offset = message.offset;
  rd_kafka_timestamp_type_t timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  int64_t timestamp = rd_kafka_message_timestamp(&message, &timestampType);
  if (timestampType != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) record.timestampMs = timestamp;
  if (message.key != nullptr) record.key.emplace(static_cast<const char*>(message.key), message.key_len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      record.headers.emplace_back(
          name, value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string());
    }
  }
  if (message.payload != nullptr) record.value.assign(static_cast<const char*>(message.payload), message.len);
  return record;
}

Status RdKafkaConsumer::assign(const std::vector<KafkaPartition>& partitions, bool cooperative) {
  TopicPartitions list(partitions);
  if (cooperative) {
    if (RdKafka::Error* failure = consumer_->incremental_assign(list.list())) {
      std::string error = failure->str();
      delete failure;
      return unavailable(error);
    }
  } else if (RdKafka::ErrorCode code = consumer_->assign(list.list()); code != RdKafka::ERR_NO_ERROR) {
    return unavailable(RdKafka::err2str(code));
  }
  return Status::ok();
}

std::vector<KafkaPartition> RdKafkaConsumer::assignment() {
  TopicPartitions list;
  if (consumer_->assignment(list.list()) != RdKafka::ERR_NO_ERROR) return {};
  return partitionsOf(list.list());
}

bool RdKafkaConsumer::assignmentLost() { return consumer_->assignment_lost(); }

void RdKafkaConsumer::pause(const std::vector<KafkaPartition>& partitions) {
  for (const KafkaPartition& p : partitions) appPaused_.emplace(p.topic, p.partition);
  TopicPartitions list(partitions);
  consumer_->pause(list.list());
}

void RdKafkaConsumer::resume(const std::vector<KafkaPartition>& partitions) {
  for (const KafkaPartition& p : partitions) appPaused_.erase({p.topic, p.partition});
  TopicPartitions list(partitions);
  consumer_->resume(list.list());
}

Status RdKafkaConsumer::commitAsync(const std::vector<KafkaPartition>& offsets) {
  TopicPartitions list(offsets);
  RdKafka::ErrorCode err = consumer_->commitAsync(list.list());
  return err == RdKafka::ERR_NO_ERROR ? Status::ok() : unavailable(RdKafka::err2str(err));
}

Status RdKafkaConsumer::commitSync(std::vector<KafkaPartition>& offsets) {
  TopicPartitions list(offsets);
  RdKafka::ErrorCode err = consumer_->commitSync(list.list());
  if (err != RdKafka::ERR_NO_ERROR) return unavailable(RdKafka::err2str(err));
  for (size_t i = 0; i < offsets.size(); ++i) {
    RdKafka::ErrorCode partitionErr = list.list()[i]->err();
    offsets[i].error = partitionErr == RdKafka::ERR_NO_ERROR ? "" : RdKafka::err2str(partitionErr);
  }
  return Status::ok();
}

Status RdKafkaConsumer::committed(std::vector<KafkaPartition>& partitions, std::chrono::milliseconds timeout) {
  TopicPartitions list(partitions);
  RdKafka::ErrorCode err = consumer_->committed(list.list(), static_cast<int>(timeout.count()));
  if (err != RdKafka::ERR_NO_ERROR) return unavailable(RdKafka::err2str(err));
  for (size_t i = 0; i < partitions.size(); ++i) {
    partitions[i].offset = list.list()[i]->offset();
    std::vector<unsigned char> metadata = list.list()[i]->get_metadata();
    partitions[i].metadata.assign(metadata.begin(), metadata.end());
  }
  return Status::ok();
}

std::optional<KafkaWatermarks> RdKafkaConsumer::watermarks(const std::string& topic, int32_t partition, bool askBroker,
                                                           std::chrono::milliseconds timeout) {
  KafkaWatermarks marks;
  RdKafka::ErrorCode err = askBroker ? consumer_->query_watermark_offsets(topic, partition, &marks.low, &marks.high,
                                                                          static_cast<int>(timeout.count()))
                                     : consumer_->get_watermark_offsets(topic, partition, &marks.low, &marks.high);
  if (err != RdKafka::ERR_NO_ERROR) return std::nullopt;
  return marks;
}

bool RdKafkaConsumer::clusterReachable(std::chrono::milliseconds timeout) {
  RdKafka::Metadata* metadata = nullptr;
  RdKafka::ErrorCode err = consumer_->metadata(false, nullptr, &metadata, static_cast<int>(timeout.count()));
  delete metadata;
  return err == RdKafka::ERR_NO_ERROR;
}

namespace {

bool assignedAny(rd_kafka_t* handle) {
  rd_kafka_topic_partition_list_t* assignment = nullptr;
  if (rd_kafka_assignment(handle, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  const bool any = assignment->cnt > 0;
  rd_kafka_topic_partition_list_destroy(assignment);
  return any;
}

}  // namespace

// librdkafka's own close() waits without a bound: commits deferred while the
// group coordinator is unavailable hold it for session.timeout.ms (45 s by
// default), longer than a replica's termination grace. So the close runs in
// librdkafka's background and this thread serves its callbacks (the final
// revoke) until it is done or the budget is spent.
void RdKafkaConsumer::close(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  rd_kafka_t* handle = consumer_->c_ptr();
  std::vector<rd_kafka_message_t*> dropped(16);
  // librdkafka's close can hang for good when an assignment reaches the member
  // while it closes: the incremental unassign that follows waits on an
  // operation no thread answers (librdkafka #4884; seen when every replica
  // drained at once and the last was handed the others' partitions). Leaving
  // the subscription first, with the callbacks served here until nothing is
  // assigned, leaves close nothing to revoke.
  if (budget.count() > 0 && consumer_->unsubscribe() == RdKafka::ERR_NO_ERROR) {
    while (assignedAny(handle) && std::chrono::steady_clock::now() < deadline) {
      ssize_t got = rd_kafka_consume_batch_queue(queue_, 100, dropped.data(), dropped.size());
      for (ssize_t i = 0; i < got; ++i) rd_kafka_message_destroy(dropped[static_cast<size_t>(i)]);
    }
  }
  rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  rd_kafka_queue_t* closing = rd_kafka_queue_new(handle);
  if (budget.count() > 0) {
    if (rd_kafka_error_t* error = rd_kafka_consumer_close_queue(handle, closing)) {
      SLUICE_LOG_WARN("{}: close: {}", owner_, rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  }
  while (budget.count() > 0 && !rd_kafka_consumer_closed(handle) && std::chrono::steady_clock::now() < deadline) {
    // Serves the rebalance callbacks; records still fetched are dropped (the next owner reads them).
    ssize_t got = rd_kafka_consume_batch_queue(closing, 100, dropped.data(), dropped.size());
    for (ssize_t i = 0; i < got; ++i) rd_kafka_message_destroy(dropped[static_cast<size_t>(i)]);
  }
  abandoned_ = !rd_kafka_consumer_closed(handle);
  rd_kafka_queue_destroy(closing);
  if (abandoned_) {
    SLUICE_LOG_WARN(
        "{}: left without the group's goodbye after {} ms (the cluster did not answer); the group "
        "drops this member after its session timeout",
        owner_, budget.count());
  }
}

// Two of librdkafka's pause rules make a partition stop being fetched for
// good, with no error and no log line (issue 16: after a scale-down the lag of
// one partition stood still while its owner was Ready):
// - Before a cooperative rebalance's callback, librdkafka pauses every
//   assigned partition by an operation the partition's broker thread serves
//   later, and the incremental (un)assign call resumes them; but a resume that
//   finds the pause not served yet is dropped, and the pause, served after
//   it, holds the partition until the next rebalance (librdkafka #5591). So
//   the callback first pauses the assignment itself: an application's pause
//   is synchronous and queued behind librdkafka's, so once it returns
//   librdkafka's pause is in force and its resume cannot miss it. Afterwards
//   the partitions the source did not pause are resumed.
// - An application's pause outlives a revoke: a partition paused when it was
//   taken away came back paused when the group gave it back later (a member
//   pauses all its partitions while its commits wait for the broker, which is
//   what a rebalance does to them). So a partition leaving the assignment
//   leaves its pause behind (resumeLeaving).
void RdKafkaConsumer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                   std::vector<RdKafka::TopicPartition*>& partitions) {
  // COOPERATIVE (cooperative-sticky): `partitions` is only what is added or
  // taken away, and the rest of the assignment keeps being consumed. EAGER
  // (when a user sets another partition.assignment.strategy in properties):
  // everything is revoked, then everything assigned afresh.
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (!cooperative) {
    serveRebalance(consumer, err, partitions, cooperative);
    return;
  }
  TopicPartitions kept;
  consumer->assignment(kept.list());
  consumer->pause(kept.list());
  serveRebalance(consumer, err, partitions, cooperative);
  // Revoked ones too: unassigned, they must not come back paused (see above).
  std::vector<KafkaPartition> resumed = partitionsOf(kept.list());
  std::erase_if(resumed, [&](const KafkaPartition& p) { return appPaused_.contains({p.topic, p.partition}); });
  TopicPartitions list(resumed);
  if (!resumed.empty()) consumer->resume(list.list());
}

void RdKafkaConsumer::serveRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                     std::vector<RdKafka::TopicPartition*>& partitions, bool cooperative) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    listener_->onAssign(partitionsOf(partitions), cooperative);
    return;
  }
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    listener_->onRevoke(partitionsOf(partitions), consumer->assignment_lost());
  } else {
    SLUICE_LOG_ERROR("{}: rebalance error: {}", owner_, RdKafka::err2str(err));
    listener_->onRevoke(partitionsOf(partitions), /*lost=*/true);
  }
  resumeLeaving(partitions);
  if (cooperative) {
    if (RdKafka::Error* error = consumer->incremental_unassign(partitions)) {
      SLUICE_LOG_ERROR("{}: unassign: {}", owner_, error->str());
      delete error;
    }
  } else {
    consumer->unassign();
  }
}

void RdKafkaConsumer::resumeLeaving(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<KafkaPartition> leaving;
  for (const KafkaPartition& p : partitionsOf(partitions)) {
    if (appPaused_.erase({p.topic, p.partition}) > 0) leaving.push_back(p);
  }
  if (leaving.empty()) return;
  // Resumed while still assigned: whatever it fetches before the unassign
  // that follows is dropped with the partition's queue.
  TopicPartitions list(leaving);
  consumer_->resume(list.list());
}

void RdKafkaConsumer::offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) {
  std::vector<KafkaPartition> results = partitionsOf(offsets);
  for (size_t i = 0; i < offsets.size(); ++i) {
    RdKafka::ErrorCode partitionErr = offsets[i]->err() != RdKafka::ERR_NO_ERROR ? offsets[i]->err() : err;
    if (partitionErr != RdKafka::ERR_NO_ERROR) results[i].error = RdKafka::err2str(partitionErr);
  }
  listener_->onCommitted(results);
}

}  // namespace sluice::runtime
