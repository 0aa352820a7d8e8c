#include "runtime/sources/kafka_source.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "common/logging.h"

namespace sluice::runtime {

namespace {

constexpr std::chrono::milliseconds kCapacityWait{20};
constexpr int kConsumeTimeoutMs = 100;

void destroyPartitions(std::vector<RdKafka::TopicPartition*>& partitions) {
  RdKafka::TopicPartition::destroy(partitions);
  partitions.clear();
}

}  // namespace

KafkaSource::KafkaSource(KafkaSourceOptions options, RuntimeMetrics& metrics, Clock& clock)
    : options_(std::move(options)),
      events_("kafka trigger " + options_.triggerName),
      metrics_(metrics),
      clock_(clock) {}

KafkaSource::~KafkaSource() {
  if (thread_.joinable()) {
    finishDeadline_ = clock_.now();
    finishing_ = true;
    thread_.join();
  }
}

std::string KafkaSource::laneOf(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

Status KafkaSource::start(EventDispatcher& dispatcher) {
  if (options_.topics.empty()) return invalidArgument("kafka trigger \"" + options_.triggerName + "\": no topics");
  if (options_.consumerGroup.empty()) {
    return invalidArgument("kafka trigger \"" + options_.triggerName + "\": consumerGroup is empty");
  }
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", options_.bootstrapServers},
      {"group.id", options_.consumerGroup},
      {"client.id", "sluice-runtime"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", options_.initialOffset},
      // Incremental rebalances: a member joining or leaving moves only the
      // partitions that must move; the others keep flowing.
      {"partition.assignment.strategy", "cooperative-sticky"},
      // Backpressure (the in-flight window) stops us consuming, so librdkafka's
      // fetch queue fills up; it then postpones the next fetch by this much
      // (default 1000 ms), long after the window has drained (~0.2 s at 50,000
      // in flight): the pipeline stood idle for most of a second, every time.
      // Re-checking the queue every 10 ms costs nothing measurable.
      {"fetch.queue.backoff.ms", "10"},
  };
  if (options_.prefetchBytes > 0) {
    // librdkafka prefetches up to 64 MiB (and fetches 50 MiB at once) by
    // default, outside the delivery loop's byte budget: bound both by the
    // trigger's prefetch share. A record larger than that is still fetched
    // (the broker returns at least one batch).
    properties["queued.max.messages.kbytes"] = std::to_string(std::max<int64_t>(options_.prefetchBytes / 1024, 1));
    properties["fetch.max.bytes"] = std::to_string(options_.prefetchBytes);
    properties["max.partition.fetch.bytes"] = std::to_string(std::min<int64_t>(options_.prefetchBytes, 1 << 20));
  }
  for (const auto& [key, value] : options_.properties) properties[key] = value;
  auto conf = clients::makeKafkaConf(properties);
  if (!conf.isOk()) return conf.status().withContext("kafka trigger \"" + options_.triggerName + "\"");
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error) != RdKafka::Conf::CONF_OK) {
    return internalError("kafka rebalance callback: " + error);
  }
  if ((*conf)->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(this), error) != RdKafka::Conf::CONF_OK) {
    return internalError("kafka offset commit callback: " + error);
  }
  if (Status attached = events_.attachTo(**conf); !attached.isOk()) return attached;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer_) return invalidArgument("kafka trigger \"" + options_.triggerName + "\": " + error);
  if (auto err = consumer_->subscribe(options_.topics); err != RdKafka::ERR_NO_ERROR) {
    return unavailable("kafka trigger \"" + options_.triggerName + "\": subscribe: " + RdKafka::err2str(err));
  }
  dispatcher_ = &dispatcher;
  queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
  if (queue_ == nullptr) return internalError("kafka trigger \"" + options_.triggerName + "\": no consumer queue");
  thread_ = std::thread([this] { run(); });
  SLUICE_LOG_INFO("kafka trigger {}: consuming {} topic(s) as group {}", options_.triggerName, options_.topics.size(),
                  options_.consumerGroup);
  return Status::ok();
}

void KafkaSource::stopFetching() {
  fetching_ = false;
  // Wait out a dispatch under way: after this returns nothing more is
  // dispatched, so the drain's wait for an idle delivery loop cannot miss an
  // event dispatched a moment later (it would finish after the final commit
  // and be replayed by the next owner: a duplicate).
  std::lock_guard lock(dispatchMu_);
}

Status KafkaSource::finish(Clock::TimePoint deadline) {
  if (!thread_.joinable()) return Status::ok();
  finishDeadline_ = deadline;
  finishing_ = true;
  thread_.join();
  return Status::ok();
}

void KafkaSource::run() {
  while (!finishing_) {
    processCompletions();
    Clock::TimePoint now = clock_.now();
    if (now >= nextCommit_) {
      commit(false);
      nextCommit_ = now + options_.commitInterval;
    }
    if (now >= nextLag_) {
      reportLag();
      nextLag_ = now + options_.lagInterval;
    }
    bool fetching = fetching_.load();
    if (!fetching && !paused_) pauseAll();
    if (fetching) {
      if (Status intake = dispatcher_->intakeStatus(); !intake.isOk()) {
        if (!paused_) {
          SLUICE_LOG_WARN("kafka trigger {}: fetching paused, records in flight stay uncommitted: {}",
                          options_.triggerName, intake.toString());
          pauseAll();
        }
        // Paused partitions yield nothing new; the round still serves the group
        // (rebalances, poll interval) and dispatches what was fetched just before
        // the pause, which the delivery loop holds, unacknowledged, until the
        // output works again.
        fetchRound();
        continue;
      }
      if (paused_) {
        SLUICE_LOG_INFO("kafka trigger {}: outputs work again, fetching resumed", options_.triggerName);
        resumeAll();
      }
      if (!dispatcher_->waitForCapacity(kCapacityWait)) continue;
    }
    fetchRound();
  }
  // Drain: everything finished is committed, then close() leaves the group
  // (running the revoke callback, which commits synchronously for the record).
  processCompletions();
  commitBeforeLeaving();
  consumer_->close();
  rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  SLUICE_LOG_INFO("kafka trigger {}: left group {} ({} offset commits)", options_.triggerName, options_.consumerGroup,
                  commitsWritten_.load());
}

size_t KafkaSource::consumeInto(size_t room, int timeoutMs) {
  const size_t had = batch_.size();
  batch_.resize(had + room);
  ssize_t got = rd_kafka_consume_batch_queue(queue_, timeoutMs, batch_.data() + had, room);
  batch_.resize(had + static_cast<size_t>(std::max<ssize_t>(got, 0)));
  if (got < 0) {
    SLUICE_LOG_WARN("kafka trigger {}: consume: {}", options_.triggerName, rd_kafka_err2str(rd_kafka_last_error()));
  }
  return batch_.size() - had;
}

void KafkaSource::fetchRound() {
  // Take what librdkafka has already fetched; only if that is nothing, wait
  // (up to kConsumeTimeoutMs) for one record, then take what came with it.
  // Rebalance callbacks may run inside these calls (see the header): `before`
  // is the assignment the round started with.
  const std::map<std::string, std::shared_ptr<PartitionState>> before = partitions_;
  const size_t maxRecords = static_cast<size_t>(std::max(1, options_.maxBatch));
  batch_.clear();
  batch_.reserve(maxRecords);
  inRound_ = true;
  if (consumeInto(maxRecords, 0) == 0 && consumeInto(1, kConsumeTimeoutMs) == 1 && maxRecords > 1) {
    consumeInto(maxRecords - 1, 0);
  }
  inRound_ = false;
  revokedInRound_.clear();
  dispatchRound(before);
  for (rd_kafka_message_t* message : batch_) rd_kafka_message_destroy(message);
  batch_.clear();
  applyDeferredAssign();
}

void KafkaSource::dispatchRound(const std::map<std::string, std::shared_ptr<PartitionState>>& before) {
  if (batch_.empty()) return;
  // A record fetched after draining began is not dispatched; the commit never
  // covers it, so the next owner reads it.
  std::lock_guard lock(dispatchMu_);
  if (!fetching_) return;
  // Group by partition, keeping each partition's order.
  struct Group {
    rd_kafka_topic_t* topic;
    int32_t partition;
    std::vector<const rd_kafka_message_t*> messages;
  };
  std::vector<Group> groups;
  for (const rd_kafka_message_t* message : batch_) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        SLUICE_LOG_WARN("kafka trigger {}: consume: {}", options_.triggerName, rd_kafka_message_errstr(message));
      }
      continue;
    }
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& group) {
      return group.partition == message->partition && group.topic == message->rkt;
    });
    if (it == groups.end()) {
      groups.push_back({message->rkt, message->partition, {}});
      it = std::prev(groups.end());
      it->messages.reserve(batch_.size());
    }
    it->messages.push_back(message);
  }
  for (Group& group : groups) {
    const std::string topic = rd_kafka_topic_name(group.topic);
    const std::string lane = laneOf(topic, group.partition);
    auto it = partitions_.find(lane);
    auto was = before.find(lane);
    // Owned now and by the same assignment as when the round began (or newly
    // assigned during it, never revoked during it): its records all belong to
    // this assignment. Otherwise they were fetched for one that has ended.
    if (it == partitions_.end() || (was != before.end() && was->second != it->second)) {
      SLUICE_LOG_WARN("kafka trigger {}: {} record(s) from unassigned partition {}/{} skipped", options_.triggerName,
                      group.messages.size(), topic, group.partition);
      continue;
    }
    const std::shared_ptr<PartitionState>& state = it->second;
    std::vector<Event> events;
    events.reserve(group.messages.size());
    for (const rd_kafka_message_t* message : group.messages) {
      events.push_back(eventOf(*message, topic));
      state->tracker.dispatched(message->offset);
    }
    state->nextFetch = group.messages.back()->offset + 1;
    dispatchEvents(state, std::move(events));
  }
}

Event KafkaSource::eventOf(const rd_kafka_message_t& message, const std::string& topic) {
  Event event;
  event.source = "kafka";
  event.type = "kafka.record";
  event.subject = topic;
  std::string partition = std::to_string(message.partition);
  std::string offset = std::to_string(message.offset);
  event.id.reserve(topic.size() + partition.size() + offset.size() + 2);
  event.id += topic;
  event.id += '/';
  event.id += partition;
  event.id += '/';
  event.id += offset;
  event.partition = message.partition;
  event.offset = message.offset;
  rd_kafka_timestamp_type_t timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  int64_t timestamp = rd_kafka_message_timestamp(&message, &timestampType);
  if (timestampType != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
    event.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(timestamp));
  } else {
    event.time = clock_.wallNow();
  }
  if (message.key != nullptr) event.key.emplace(static_cast<const char*>(message.key), message.key_len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      event.headers.emplace_back(name,
                                 value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string());
    }
  }
  if (message.payload != nullptr) event.data.assign(static_cast<const char*>(message.payload), message.len);
  return event;
}

void KafkaSource::dispatchEvents(const std::shared_ptr<PartitionState>& state, std::vector<Event> events) {
  // The delivery loop takes a batch of at most batchSize when the handler gets lists.
  dispatcher_->dispatchBatch(std::move(events), laneOf(state->topic, state->partition), options_.triggerName,
                             [this, state](std::vector<Event> done, const std::vector<Outcome>& outcomes) {
                               std::lock_guard lock(mu_);
                               completions_.push_back(Completion{state, std::move(done), outcomes});
                             });
}

void KafkaSource::processCompletions() {
  std::deque<Completion> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(completions_);
  }
  for (Completion& completion : batch) {
    if (completion.state->revoked) continue;  // the partition moved on; its new owner decides
    std::vector<Event> requeue;
    for (size_t i = 0; i < completion.events.size(); ++i) {
      Event& event = completion.events[i];
      switch (completion.outcomes[i]) {
        case Outcome::kRequeue: requeue.push_back(std::move(event)); continue;
        case Outcome::kRejected:
          SLUICE_LOG_ERROR("kafka trigger {}: record {} skipped after its attempts (no dead-letter output)",
                           options_.triggerName, event.id);
          break;
        case Outcome::kAcked: break;
      }
      completion.state->tracker.finished(*event.offset);
    }
    if (!requeue.empty()) dispatchEvents(completion.state, std::move(requeue));
  }
}

void KafkaSource::commit(bool synchronous, const std::vector<std::shared_ptr<PartitionState>>& only) {
  std::vector<RdKafka::TopicPartition*> offsets;
  auto add = [&](PartitionState& state) {
    auto position = state.tracker.commitPosition();
    // A synchronous commit repeats the last position too: an earlier async commit may have failed.
    if (!position || (*position <= state.lastCommitted && !synchronous)) return;
    offsets.push_back(RdKafka::TopicPartition::create(state.topic, state.partition, *position));
    state.lastCommitted = *position;
  };
  if (only.empty()) {
    for (auto& [lane, state] : partitions_) add(*state);
  } else {
    for (const auto& state : only) add(*state);
  }
  if (offsets.empty()) return;
  RdKafka::ErrorCode err = synchronous ? consumer_->commitSync(offsets) : consumer_->commitAsync(offsets);
  if (synchronous && err == RdKafka::ERR_NO_ERROR) {
    for (RdKafka::TopicPartition* tp : offsets) {
      auto it = partitions_.find(laneOf(tp->topic(), tp->partition()));
      if (it != partitions_.end() && tp->err() == RdKafka::ERR_NO_ERROR) {
        it->second->lastAcked = std::max(it->second->lastAcked, tp->offset());
      }
    }
  }
  if (err != RdKafka::ERR_NO_ERROR) {
    SLUICE_LOG_WARN("kafka trigger {}: commit of {} partition(s) failed: {}", options_.triggerName, offsets.size(),
                    RdKafka::err2str(err));
  } else {
    commitsWritten_ += static_cast<int64_t>(offsets.size());
  }
  destroyPartitions(offsets);
}

// The commits are asynchronous: a synchronous one made while a rebalance is
// under way waits, without a timeout, for the rebalance to end, and the
// rebalance waits for this consumer to serve its callbacks; the drain hung
// until the replica was killed (and the group stalled for a session timeout).
// While the group rebalances, the broker refuses the commits of a member whose
// generation is ending ("generation id is not valid", "rebalance in
// progress"); leaving then would hand finished records to the next owner, to
// be processed again. So the member keeps polling — serving its rebalance
// callbacks, which rejoins it under the new generation — and commits again
// until the broker confirms, the assignment is lost, or the drain's deadline.
// Records still fetched meanwhile are dropped uncommitted: the next owner reads them.
void KafkaSource::commitBeforeLeaving() {
  if (!paused_) pauseAll();
  commit(false);
  int rounds = 0;
  while (!everyCommitAcknowledged() && !consumer_->assignment_lost() && clock_.now() < finishDeadline_) {
    rd_kafka_message_t* message = nullptr;
    if (rd_kafka_consume_batch_queue(queue_, kConsumeTimeoutMs, &message, 1) == 1) rd_kafka_message_destroy(message);
    commit(false);  // sends again only what the broker refused (offset_commit_cb forgets it)
    ++rounds;
  }
  if (!everyCommitAcknowledged()) {
    SLUICE_LOG_WARN("kafka trigger {}: leaving group {} with commits unconfirmed after {} round(s){}",
                    options_.triggerName, options_.consumerGroup, rounds,
                    consumer_->assignment_lost() ? " (assignment lost)" : "");
  } else if (rounds > 0) {
    SLUICE_LOG_INFO("kafka trigger {}: final commit confirmed after {} polling round(s) (the group was rebalancing)",
                    options_.triggerName, rounds);
  }
}

bool KafkaSource::everyCommitAcknowledged() const {
  for (const auto& [lane, state] : partitions_) {
    auto position = state->tracker.commitPosition();
    if (position && *position > state->lastAcked) return false;
  }
  return true;
}

void KafkaSource::offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) {
  for (RdKafka::TopicPartition* tp : offsets) {
    auto it = partitions_.find(laneOf(tp->topic(), tp->partition()));
    if (err == RdKafka::ERR_NO_ERROR && tp->err() == RdKafka::ERR_NO_ERROR) {
      if (it != partitions_.end()) it->second->lastAcked = std::max(it->second->lastAcked, tp->offset());
      continue;
    }
    // Forget the position only if nothing newer was sent since: the next round then repeats it.
    if (it != partitions_.end() && it->second->lastCommitted == tp->offset()) it->second->lastCommitted = -1;
    SLUICE_LOG_WARN("kafka trigger {}: commit of {}/{}@{} failed ({}); retrying", options_.triggerName, tp->topic(),
                    tp->partition(), tp->offset(),
                    RdKafka::err2str(tp->err() != RdKafka::ERR_NO_ERROR ? tp->err() : err));
  }
}

void KafkaSource::reportLag() {
  // A partition nothing was fetched from yet (e.g. held back by the in-flight
  // limit) starts at its committed offset, or where initialOffset points.
  std::vector<RdKafka::TopicPartition*> unknown;
  for (auto& [lane, state] : partitions_) {
    if (!state->tracker.commitPosition() && state->nextFetch < 0) {
      unknown.push_back(RdKafka::TopicPartition::create(state->topic, state->partition));
    }
  }
  std::map<std::string, int64_t> committed;
  if (!unknown.empty() && consumer_->committed(unknown, 1000) == RdKafka::ERR_NO_ERROR) {
    for (RdKafka::TopicPartition* tp : unknown) committed[laneOf(tp->topic(), tp->partition())] = tp->offset();
  }
  destroyPartitions(unknown);
  for (auto& [lane, state] : partitions_) {
    int64_t low = 0;
    int64_t high = 0;
    if (paused_ ||
        consumer_->get_watermark_offsets(state->topic, state->partition, &low, &high) != RdKafka::ERR_NO_ERROR ||
        high < 0) {
      // Nothing fetched yet, so nothing cached, or paused, so the cache is stale: ask the broker.
      if (consumer_->query_watermark_offsets(state->topic, state->partition, &low, &high, 1000) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
    }
    int64_t position = state->tracker.commitPosition().value_or(state->nextFetch);
    if (position < 0) {
      auto it = committed.find(lane);
      if (it != committed.end() && it->second >= 0) {
        position = it->second;
      } else if (it != committed.end()) {
        position = options_.initialOffset == "earliest" ? low : high;
      } else {
        continue;
      }
    }
    metrics_.setConsumerLag(state->topic, state->partition, static_cast<double>(std::max<int64_t>(high - position, 0)));
  }
}

void KafkaSource::pauseAll() {
  std::vector<RdKafka::TopicPartition*> assignment;
  if (consumer_->assignment(assignment) == RdKafka::ERR_NO_ERROR && !assignment.empty()) {
    consumer_->pause(assignment);
  }
  destroyPartitions(assignment);
  paused_ = true;
}

void KafkaSource::resumeAll() {
  std::vector<RdKafka::TopicPartition*> assignment;
  if (consumer_->assignment(assignment) == RdKafka::ERR_NO_ERROR && !assignment.empty()) {
    consumer_->resume(assignment);
  }
  destroyPartitions(assignment);
  paused_ = false;
}

void KafkaSource::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                               std::vector<RdKafka::TopicPartition*>& partitions) {
  // COOPERATIVE (cooperative-sticky): `partitions` is only what is added or
  // taken away, and the rest of the assignment keeps being consumed. EAGER
  // (when a user sets another partition.assignment.strategy in properties):
  // everything is revoked, then everything assigned afresh.
  const std::string protocol = consumer->rebalance_protocol();
  const bool cooperative = protocol == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    bool again = !deferredAssign_.empty();
    for (RdKafka::TopicPartition* tp : partitions) {
      again = again || revokedInRound_.contains(laneOf(tp->topic(), tp->partition()));
    }
    if (inRound_ && again) {
      // The round may hold records of the assignment just revoked; they must
      // not pass as this one's. librdkafka accepts the assign call later.
      for (RdKafka::TopicPartition* tp : partitions) {
        deferredAssign_.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition(), tp->offset()));
      }
      deferredCooperative_ = cooperative;
      SLUICE_LOG_INFO("kafka trigger {}: assignment of {} partition(s) deferred to the end of the fetch round",
                      options_.triggerName, partitions.size());
      return;
    }
    assign(consumer, partitions, cooperative);
    return;
  }
  // A deferred assignment stays deferred: the group waits for it before the
  // next change, so this can only be an error or a lost assignment, which
  // concerns what librdkafka has assigned (partitions_), not the deferred.
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    onRevoke(partitions, consumer->assignment_lost());
  } else {
    SLUICE_LOG_ERROR("kafka trigger {}: rebalance error: {}", options_.triggerName, RdKafka::err2str(err));
    onRevoke(partitions, /*lost=*/true);
  }
  if (cooperative) {
    if (RdKafka::Error* error = consumer->incremental_unassign(partitions)) {
      SLUICE_LOG_ERROR("kafka trigger {}: unassign: {}", options_.triggerName, error->str());
      delete error;
    }
  } else {
    consumer->unassign();
  }
}

void KafkaSource::assign(RdKafka::KafkaConsumer* consumer, std::vector<RdKafka::TopicPartition*>& partitions,
                         bool cooperative) {
  for (RdKafka::TopicPartition* tp : partitions) {
    auto state = std::make_shared<PartitionState>();
    state->topic = tp->topic();
    state->partition = tp->partition();
    partitions_[laneOf(tp->topic(), tp->partition())] = state;
  }
  std::string error;
  if (cooperative) {
    if (RdKafka::Error* failure = consumer->incremental_assign(partitions)) {
      error = failure->str();
      delete failure;
    }
  } else if (RdKafka::ErrorCode code = consumer->assign(partitions); code != RdKafka::ERR_NO_ERROR) {
    error = RdKafka::err2str(code);
  }
  if (!error.empty()) SLUICE_LOG_ERROR("kafka trigger {}: assign: {}", options_.triggerName, error);
  if (paused_ || !fetching_) consumer->pause(partitions);
  SLUICE_LOG_INFO("kafka trigger {}: assigned {} partition(s) ({} rebalance), {} now owned", options_.triggerName,
                  partitions.size(), cooperative ? "cooperative" : "eager", partitions_.size());
}

void KafkaSource::applyDeferredAssign() {
  if (deferredAssign_.empty()) return;
  std::vector<RdKafka::TopicPartition*> partitions;
  partitions.swap(deferredAssign_);
  assign(consumer_.get(), partitions, deferredCooperative_);
  destroyPartitions(partitions);
}

void KafkaSource::onRevoke(std::vector<RdKafka::TopicPartition*>& partitions, bool lost) {
  std::vector<std::shared_ptr<PartitionState>> revoked;
  for (RdKafka::TopicPartition* tp : partitions) {
    auto it = partitions_.find(laneOf(tp->topic(), tp->partition()));
    if (it != partitions_.end()) revoked.push_back(it->second);
  }
  if (!lost) {
    // Finish what was fetched from these partitions before letting them go,
    // so the next owner does not replay records that completed here.
    Clock::TimePoint deadline = finishing_ ? finishDeadline_ : clock_.now() + options_.revokeTimeout;
    auto outstanding = [&] {
      for (const auto& state : revoked) {
        if (state->tracker.outstanding() > 0) return true;
      }
      return false;
    };
    processCompletions();
    while (outstanding() && clock_.now() < deadline) {
      clock_.sleepFor(std::chrono::milliseconds(5), std::stop_token{});
      processCompletions();
    }
    commit(true, revoked);
  }
  for (const auto& state : revoked) {
    if (inRound_) revokedInRound_.insert(laneOf(state->topic, state->partition));
    state->revoked = true;
    partitions_.erase(laneOf(state->topic, state->partition));
    metrics_.removeConsumerLag(state->topic, state->partition);
  }
  SLUICE_LOG_INFO("kafka trigger {}: revoked {} partition(s){}, {} still owned", options_.triggerName,
                  partitions.size(), lost ? " (assignment lost)" : "", partitions_.size());
}

}  // namespace sluice::runtime
