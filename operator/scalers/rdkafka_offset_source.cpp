#include "scalers/rdkafka_offset_source.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace sluice::scalers {

struct RdKafkaOffsetSource::Handle {
  rd_kafka_t* rk = nullptr;
  // The latest client-level errors: a request failing because of one only
  // says "timed out" or "transport failure"; these say why. An authentication
  // or TLS failure is kept apart from connection errors ("brokers are down"),
  // which it causes, so the report names the cause.
  std::mutex mu;
  std::string lastError;
  std::string securityError;
  ~Handle() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

namespace {

Status kafkaError(rd_kafka_resp_err_t err, const std::string& what) {
  StatusCode code = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                            err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                            err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                            err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                            err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS
                        ? StatusCode::kUnavailable
                        : StatusCode::kInternal;
  return {code, what + ": " + rd_kafka_err2str(err)};
}

struct PartitionList {
  rd_kafka_topic_partition_list_t* list;
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
};

constexpr int kCoordinatorRetries = 5;
constexpr std::chrono::milliseconds kCoordinatorRetryDelay{200};

bool isCoordinatorNotReady(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
         err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
}

// librdkafka's error callback (served by rd_kafka_poll in fetch): keeps the reason.
void rememberError(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  auto* handle = static_cast<RdKafkaOffsetSource::Handle*>(opaque);
  std::lock_guard lock(handle->mu);
  if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL ||
      err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
    handle->securityError = reason;
  } else {
    handle->lastError = reason;
  }
}

}  // namespace

Result<std::shared_ptr<RdKafkaOffsetSource>> RdKafkaOffsetSource::create(
    const std::string& bootstrapServers, const std::map<std::string, std::string>& config, int timeoutMilliseconds) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> all = config;
  all["bootstrap.servers"] = bootstrapServers;
  all.emplace("client.id", "sluice-autoscaler");
  // A consumer handle with a group of its own, which it never joins (it never subscribes). Not a
  // producer: when an offset fetch is answered "coordinator loading" or "not coordinator" (every
  // fresh cluster, while its offsets topic is created), librdkafka 2.12.1 asks the handle's own
  // consumer group to look up the coordinator again, and a producer has none: it dereferenced a
  // null group and the operator died of SIGSEGV (rd_kafka_cgrp_op from rd_kafka_handle_OffsetFetch).
  all["group.id"] = "sluice-autoscaler-offset-reader";
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalidArgument("kafka client property " + key + ": " + err);
    }
  }
  auto handle = std::make_unique<Handle>();
  rd_kafka_conf_set_opaque(conf, handle.get());
  rd_kafka_conf_set_error_cb(conf, rememberError);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return internalError(std::string("creating kafka client: ") + err);
  }
  handle->rk = rk;
  return std::shared_ptr<RdKafkaOffsetSource>(new RdKafkaOffsetSource(std::move(handle), timeoutMilliseconds));
}

RdKafkaOffsetSource::RdKafkaOffsetSource(std::unique_ptr<Handle> handle, int timeoutMilliseconds)
    : handle_(std::move(handle)), timeoutMilliseconds_(timeoutMilliseconds) {}

RdKafkaOffsetSource::~RdKafkaOffsetSource() = default;

Result<std::vector<PartitionOffsets>> RdKafkaOffsetSource::fetch(const std::string& group,
                                                                 const std::vector<std::string>& topics) {
  // A fresh cluster (its offsets topic being created) or a coordinator that moved answers "not
  // coordinator" / "loading" until the lookup settles, within a second or so: ask again a few times
  // rather than report a failed reading every poll until then.
  bool coordinatorNotReady = false;
  Result<std::vector<PartitionOffsets>> result = fetchOnce(group, topics, coordinatorNotReady);
  for (int retry = 0; coordinatorNotReady && retry < kCoordinatorRetries; ++retry) {
    std::this_thread::sleep_for(kCoordinatorRetryDelay);
    coordinatorNotReady = false;
    result = fetchOnce(group, topics, coordinatorNotReady);
  }
  // Error callbacks are queued until the application polls: serve them now.
  rd_kafka_poll(handle_->rk, 0);
  std::lock_guard lock(handle_->mu);
  if (result.isOk()) {
    handle_->lastError.clear();
    handle_->securityError.clear();
    return result;
  }
  const std::string& cause = handle_->securityError.empty() ? handle_->lastError : handle_->securityError;
  if (cause.empty()) return result;
  return Status(result.status().code(), result.status().message() + " (client error: " + cause + ")");
}

namespace {

// 1. The partitions of every topic, into `partitions`; NotFound names a missing topic. Asks for
// these topics only: metadata of the whole cluster (every topic, __consumer_offsets' 50
// partitions among them) was fetched and parsed on every reading of every Trigger.
Status listPartitions(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeoutMs,
                      PartitionList& partitions) {
  for (const std::string& name : std::set<std::string>(topics.begin(), topics.end())) {
    rd_kafka_topic_t* only = rd_kafka_topic_new(rk, name.c_str(), nullptr);
    if (only == nullptr) return invalidArgument("topic " + name + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, only, &metadata, timeoutMs);
    rd_kafka_topic_destroy(only);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError(err, "reading metadata of topic " + name);
    bool found = false;
    for (int t = 0; t < metadata->topic_cnt; ++t) {
      const rd_kafka_metadata_topic_t& topic = metadata->topics[t];
      if (name != topic.topic || topic.err != RD_KAFKA_RESP_ERR_NO_ERROR || topic.partition_cnt == 0) continue;
      found = true;
      for (int p = 0; p < topic.partition_cnt; ++p) {
        rd_kafka_topic_partition_list_add(partitions.list, topic.topic, topic.partitions[p].id);
      }
    }
    rd_kafka_metadata_destroy(metadata);
    if (!found) return notFound("topic " + name + " does not exist");
  }
  return Status::ok();
}

// The committed offsets in a ListConsumerGroupOffsets answer.
Result<std::vector<PartitionOffsets>> committedIn(rd_kafka_event_t* event, bool& coordinatorNotReady) {
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    coordinatorNotReady = isCoordinatorNotReady(rd_kafka_event_error(event));
    return Status(StatusCode::kUnavailable,
                  std::string("listing committed offsets: ") + rd_kafka_event_error_string(event));
  }
  const rd_kafka_ListConsumerGroupOffsets_result_t* listed = rd_kafka_event_ListConsumerGroupOffsets_result(event);
  size_t groupCount = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(listed, &groupCount);
  if (groupCount != 1) return internalError("listing committed offsets: expected one group in the answer");
  if (const rd_kafka_error_t* groupError = rd_kafka_group_result_error(groups[0])) {
    coordinatorNotReady = isCoordinatorNotReady(rd_kafka_error_code(groupError));
    return Status(StatusCode::kUnavailable,
                  std::string("listing committed offsets: ") + rd_kafka_error_string(groupError));
  }
  // On a fresh cluster (its offsets topic still being created, the coordinator loading) the
  // answer can come without a partition list, or with an error per partition instead of an
  // offset: a reading to retry, not "nothing committed" (and not a null to dereference).
  const rd_kafka_topic_partition_list_t* committed = rd_kafka_group_result_partitions(groups[0]);
  if (committed == nullptr) {
    return Status(StatusCode::kUnavailable, "listing committed offsets: the answer has no partitions");
  }
  std::vector<PartitionOffsets> result;
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = committed->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      coordinatorNotReady = isCoordinatorNotReady(tp.err);
      return Status(StatusCode::kUnavailable, "listing committed offsets of " + std::string(tp.topic) + "/" +
                                                  std::to_string(tp.partition) + ": " + rd_kafka_err2str(tp.err));
    }
    PartitionOffsets offsets;
    offsets.topic = tp.topic;
    offsets.partition = tp.partition;
    offsets.committed = tp.offset >= 0 ? tp.offset : kNoCommittedOffset;
    result.push_back(offsets);
  }
  return result;
}

// 2. Committed offsets of the group, all partitions in one request.
Result<std::vector<PartitionOffsets>> listCommitted(rd_kafka_t* rk, const std::string& group,
                                                    const PartitionList& partitions, int timeoutMs,
                                                    bool& coordinatorNotReady) {
  rd_kafka_ListConsumerGroupOffsets_t* request = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), partitions.list);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  char errText[256];
  rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, errText, sizeof(errText));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, options, queue);
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeoutMs + 1000);
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) return Status(StatusCode::kDeadlineExceeded, "listing committed offsets: timed out");
  Result<std::vector<PartitionOffsets>> result = committedIn(event, coordinatorNotReady);
  rd_kafka_event_destroy(event);
  return result;
}

// 3. High watermarks: offsets-for-times with "latest" asks every leader once.
Status fillHighWatermarks(rd_kafka_t* rk, std::vector<PartitionOffsets>& offsets, int timeoutMs) {
  PartitionList latest(static_cast<int>(offsets.size()));
  for (const PartitionOffsets& p : offsets) {
    rd_kafka_topic_partition_list_add(latest.list, p.topic.c_str(), p.partition)->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, latest.list, timeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError(err, "reading high watermarks");
  for (PartitionOffsets& p : offsets) {
    rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_find(latest.list, p.topic.c_str(), p.partition);
    if (tp != nullptr && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0) {
      p.highWatermark = tp->offset;
      continue;
    }
    // One partition's leader did not answer: ask it directly rather than guess.
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t werr =
        rd_kafka_query_watermark_offsets(rk, p.topic.c_str(), p.partition, &low, &high, timeoutMs);
    if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafkaError(werr, "reading the high watermark of " + p.topic + "/" + std::to_string(p.partition));
    }
    p.highWatermark = high;
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<PartitionOffsets>> RdKafkaOffsetSource::fetchOnce(const std::string& group,
                                                                     const std::vector<std::string>& topics,
                                                                     bool& coordinatorNotReady) {
  rd_kafka_t* rk = handle_->rk;
  PartitionList partitions(16);
  if (Status s = listPartitions(rk, topics, timeoutMilliseconds_, partitions); !s.isOk()) return s;
  Result<std::vector<PartitionOffsets>> offsets =
      listCommitted(rk, group, partitions, timeoutMilliseconds_, coordinatorNotReady);
  if (!offsets.isOk()) return offsets.status();
  if (Status s = fillHighWatermarks(rk, *offsets, timeoutMilliseconds_); !s.isOk()) return s;
  return offsets;
}

Result<std::shared_ptr<KafkaOffsetSource>> RdKafkaClientPool::acquire(const clients::KafkaClientSettings& settings,
                                                                      int timeoutMilliseconds) {
  std::pair key{settings, timeoutMilliseconds};
  std::lock_guard lock(mu_);
  std::erase_if(clients_, [](const auto& entry) { return entry.second.expired(); });
  if (auto it = clients_.find(key); it != clients_.end()) {
    if (std::shared_ptr<RdKafkaOffsetSource> live = it->second.lock()) return std::shared_ptr<KafkaOffsetSource>(live);
  }
  auto created = RdKafkaOffsetSource::create(settings.bootstrapServers, settings.properties, timeoutMilliseconds);
  if (!created.isOk()) return created.status();
  clients_[std::move(key)] = *created;
  return std::shared_ptr<KafkaOffsetSource>(*created);
}

size_t RdKafkaClientPool::liveClients() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(clients_.begin(), clients_.end(), [](const auto& entry) { return !entry.second.expired(); }));
}

}  // namespace sluice::scalers
