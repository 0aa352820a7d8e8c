#include "runtime/sources/kafka_source.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "common/logging.h"
#include "common/time.h"
#include "runtime/sources/rdkafka_consumer.h"

namespace sluice::runtime {

namespace {

constexpr std::chrono::milliseconds kCapacityWait{20};
constexpr std::chrono::milliseconds kConsumeTimeout{100};
// Held for commits, the consumer thread wakes at a completion (or after this),
// so the finished records' offsets go out at once.
constexpr std::chrono::milliseconds kHeldWait{5};
constexpr std::chrono::milliseconds kBrokerQueryTimeout{1000};
// While a probation record runs, the loop polls its completion this often
// (the consumer's wait would otherwise hold each one up to kConsumeTimeout).
constexpr std::chrono::milliseconds kProbationPoll{2};
// Commits unconfirmed this long into a drain ask whether the cluster is there
// at all (one metadata request, answered or not within kReachabilityTimeout).
constexpr std::chrono::milliseconds kReachabilityProbeAfter{1000};
constexpr std::chrono::milliseconds kReachabilityTimeout{2000};
// A reachable group gets at least this long for the member's goodbye, even
// when the drain's grace is spent: leaving spares the others a session timeout.
constexpr std::chrono::milliseconds kMinCloseBudget{3000};
// How long the slowest confirmation sets the stall threshold (one to two of these).
constexpr std::chrono::seconds kConfirmationWindow{5};

// "topic/0 topic/3", for the lines that tell where partitions went.
std::string namesOf(const std::vector<KafkaPartition>& partitions) {
  std::string names;
  for (const KafkaPartition& p : partitions) {
    if (!names.empty()) names += ' ';
    names += p.topic + "/" + std::to_string(p.partition);
  }
  return names;
}

}  // namespace

KafkaSource::KafkaSource(KafkaSourceOptions options, RuntimeMetrics& metrics, Clock& clock,
                         std::unique_ptr<KafkaConsumer> consumer)
    : options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      consumer_(std::move(consumer)),
      confirmationPace_(options_.minCommitStall, options_.commitStall, kConfirmationWindow) {
  if (!consumer_) consumer_ = std::make_unique<RdKafkaConsumer>("kafka trigger " + options_.triggerName);
}

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
  if (Status opened = consumer_->open(properties, options_.topics, *this); !opened.isOk()) {
    return opened.withContext("kafka trigger \"" + options_.triggerName + "\"");
  }
  dispatcher_ = &dispatcher;
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
    updateCommitHold(now);
    releaseAllHeld();
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
        fetchRound(kConsumeTimeout);
        continue;
      }
      if (paused_) {
        SLUICE_LOG_INFO("kafka trigger {}: outputs work again, fetching resumed", options_.triggerName);
        resumeAll();
      }
      if (holdForCommits_) {
        // Short rounds (serving the rebalance, receiving the confirmations);
        // what they fetch is held (mustHold), a partition paused once it
        // holds a batch (holdBack): no refetch for a hold of milliseconds.
        waitForCompletions(kHeldWait);
        fetchRound(std::chrono::milliseconds(0));
        continue;
      }
      if (!dispatcher_->waitForCapacity(kCapacityWait)) continue;
    }
    fetchRound(kConsumeTimeout);
  }
  // Drain: everything finished is committed, then close() leaves the group
  // (running the revoke callback, which commits synchronously for the record).
  processCompletions();
  // A cluster that is gone has no group to leave: waiting for it would only
  // hold the replica past its termination grace (issue 17: a mirror whose
  // source had died took ~48 s to exit).
  std::chrono::milliseconds closeBudget{0};
  // Asked again when every commit was confirmed without asking: a member that
  // owns nothing (its partitions revoked as the coordinator vanished) has
  // nothing to confirm, and the group it would wait on may be gone.
  if (commitBeforeLeaving() && consumer_->clusterReachable(kReachabilityTimeout)) {
    closeBudget = std::max(kMinCloseBudget,
                           std::chrono::duration_cast<std::chrono::milliseconds>(finishDeadline_ - clock_.now()));
  }
  consumer_->close(closeBudget);
  SLUICE_LOG_INFO("kafka trigger {}: left group {} ({} offset commits)", options_.triggerName, options_.consumerGroup,
                  commitsWritten_.load());
}

size_t KafkaSource::consumeInto(size_t room, std::chrono::milliseconds timeout) {
  return consumer_->consume(batch_, room, timeout);
}

void KafkaSource::fetchRound(std::chrono::milliseconds wait) {
  // Take what the consumer has already fetched; only if that is nothing, wait
  // (up to `wait`) for one record, then take what came with it.
  // Rebalance callbacks may run inside these calls (see the header): `before`
  // is the assignment the round started with.
  const std::map<std::string, std::shared_ptr<PartitionState>> before = partitions_;
  const size_t maxRecords = static_cast<size_t>(std::max(1, options_.maxBatch));
  batch_.clear();
  batch_.reserve(maxRecords);
  inRound_ = true;
  bool waitingOnHeld = false;
  for (const auto& [lane, state] : partitions_) waitingOnHeld = waitingOnHeld || !state->held.empty();
  if (consumeInto(maxRecords, std::chrono::milliseconds(0)) == 0 &&
      consumeInto(1, waitingOnHeld ? std::min(wait, kProbationPoll) : wait) == 1 && maxRecords > 1) {
    consumeInto(maxRecords - 1, std::chrono::milliseconds(0));
  }
  inRound_ = false;
  revokedInRound_.clear();
  dispatchRound(before);
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
    std::string topic;
    int32_t partition;
    std::vector<KafkaRecord*> records;
  };
  std::vector<Group> groups;
  for (KafkaRecord& record : batch_) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& group) {
      return group.partition == record.partition && group.topic == record.topic;
    });
    if (it == groups.end()) {
      groups.push_back({record.topic, record.partition, {}});
      it = std::prev(groups.end());
      it->records.reserve(batch_.size());
    }
    it->records.push_back(&record);
  }
  for (Group& group : groups) {
    const std::string& topic = group.topic;
    const std::string lane = laneOf(topic, group.partition);
    auto it = partitions_.find(lane);
    auto was = before.find(lane);
    // Owned now and by the same assignment as when the round began (or newly
    // assigned during it, never revoked during it): its records all belong to
    // this assignment. Otherwise they were fetched for one that has ended.
    if (it == partitions_.end() || (was != before.end() && was->second != it->second)) {
      SLUICE_LOG_WARN("kafka trigger {}: {} record(s) from unassigned partition {}/{} skipped", options_.triggerName,
                      group.records.size(), topic, group.partition);
      continue;
    }
    const std::shared_ptr<PartitionState>& state = it->second;
    if (state->firstFetched < 0) state->firstFetched = group.records.front()->offset;
    std::vector<Event> events;
    events.reserve(group.records.size());
    int64_t lastDispatched = -1;
    for (KafkaRecord* record : group.records) {
      if (!state->held.empty() || mustHold(*state, record->offset)) {
        state->held.push_back(std::move(*record));
        continue;
      }
      state->tracker.dispatched(record->offset);
      lastDispatched = record->offset;
      events.push_back(eventOf(*record));
    }
    state->nextFetch = group.records.back()->offset + 1;
    if (!state->held.empty()) holdBack(*state);
    if (events.empty()) continue;
    noteDispatched(*state, events.size(), lastDispatched);
    dispatchEvents(state, std::move(events));
  }
}

bool KafkaSource::mustHold(const PartitionState& state, int64_t offset) const {
  // Everything finished and unconfirmed, and everything dispatched, is what a
  // kill replays: while confirmations lag, nothing joins it (the limit alone
  // lets a window of rounds through).
  return holdForCommits_ || state.probation.covers(offset) || offset >= state.limitAcked;
}

void KafkaSource::holdBack(PartitionState& state) {
  // Only a probation holds records for long. Records waiting for a commit
  // that raises the limit wait one round trip: pausing would also drop
  // librdkafka's prefetched records, to be fetched again (seen as 300 ms of
  // latency at 2,000 records/s).
  // A round's worth held (the commit is slow or failing): pause too. Held
  // records are outside the delivery loop's in-flight budget, so they may
  // overshoot it by one round, as a fetch round may, and no more.
  const bool many = state.held.size() >= static_cast<size_t>(std::max(1, options_.maxBatch));
  if (!state.heldPaused && (many || state.probation.covers(state.held.front().offset))) {
    consumer_->pause({{state.topic, state.partition, kKafkaNoOffset, "", ""}});
    state.heldPaused = true;
  }
  if (!holdForCommits_) nextCommit_ = clock_.now();  // a commit raises the limit
}

void KafkaSource::noteDispatched(PartitionState& state, size_t count, int64_t lastOffset) {
  state.dispatchedEnd = std::max(state.dispatchedEnd, lastOffset + 1);
  state.dispatchedThisInterval += count;
}

void KafkaSource::releaseAllHeld() {
  // Copied: a dispatch cannot change partitions_, but keep the loop independent of it.
  for (const auto& [lane, state] : partitions_) {
    if (!state->held.empty()) releaseHeld(state);
  }
}

void KafkaSource::releaseHeld(const std::shared_ptr<PartitionState>& state) {
  std::lock_guard lock(dispatchMu_);
  if (!fetching_) return;
  std::deque<KafkaRecord>& held = state->held;
  if (!held.empty() && state->probation.covers(held.front().offset)) {
    // One at a time: the mark names the one record whose handling may kill the process.
    const int64_t offset = held.front().offset;
    const int exits = state->probation.exitsOf(offset);
    if (state->tracker.outstanding() > 0 || !markInFlight(*state, offset, exits)) return;
    std::vector<Event> one;
    one.push_back(eventOf(held.front()));
    one.back().exits = exits;
    held.pop_front();
    state->tracker.dispatched(offset);
    noteDispatched(*state, 1, offset);
    dispatchEvents(state, std::move(one));
  }
  // Past the probation and below the limit: in batches of at most maxBatch,
  // as fetched (a list handler's batch size).
  const size_t maxBatch = static_cast<size_t>(std::max(1, options_.maxBatch));
  while (!held.empty() && !mustHold(*state, held.front().offset)) {
    std::vector<Event> events;
    int64_t lastDispatched = -1;
    while (!held.empty() && events.size() < maxBatch && !mustHold(*state, held.front().offset)) {
      lastDispatched = held.front().offset;
      state->tracker.dispatched(lastDispatched);
      events.push_back(eventOf(held.front()));
      held.pop_front();
    }
    noteDispatched(*state, events.size(), lastDispatched);
    dispatchEvents(state, std::move(events));
  }
  // Waiting for a commit that raises the limit: make it now (not while
  // waiting for confirmations: more commits would only queue behind them).
  if (!held.empty() && !holdForCommits_ && !state->probation.covers(held.front().offset)) nextCommit_ = clock_.now();
  if (held.empty() && state->heldPaused) {
    state->heldPaused = false;
    if (!paused_ && fetching_) consumer_->resume({{state->topic, state->partition, kKafkaNoOffset, "", ""}});
  }
}

// Asynchronous: a synchronous commit made while the group rebalances waits
// for the rebalance, which waits for this thread (see commitBeforeLeaving).
bool KafkaSource::markInFlight(PartitionState& state, int64_t offset, int exits) {
  if (state.markAcked == offset) return true;
  if (state.markOffset == offset && state.markSent) return false;  // its result comes with a later poll
  // The mark counts the exits charged to the record should this run die. A
  // record on probation after an unattributed death (exits 0) was among those
  // in flight then: if it now kills the process alone, that first death was
  // its too, so it is charged from 1, and a record that kills the process
  // whenever handled causes exactly maxAttempts exits (not maxAttempts + 1).
  // An innocent record is never charged: it must die alone first.
  CrashMark mark{std::max({state.probation.end, state.limitSent, offset + 1}), std::max(exits, 1)};
  Status sent = consumer_->commitAsync({{state.topic, state.partition, offset, "", formatCrashMark(mark)}});
  if (!sent.isOk()) {
    SLUICE_LOG_WARN("kafka trigger {}: marking {}/{}@{} in flight failed ({}); trying again", options_.triggerName,
                    state.topic, state.partition, offset, sent.message());
    return false;
  }
  ++commitsWritten_;
  state.markOffset = offset;
  state.markExits = mark.inflight;  // the periodic commits carry the same charge
  state.markSent = true;
  noteCommitSent(state, offset);
  state.limitSent = std::max(state.limitSent, mark.limit);
  if (exits > 0) {
    SLUICE_LOG_WARN("kafka trigger {}: record {}/{}@{} is delivered again after {} process exit(s) while handling it",
                    options_.triggerName, state.topic, state.partition, offset, exits);
  }
  return false;
}

// Moves the record's strings into the event.
Event KafkaSource::eventOf(KafkaRecord& record) {
  Event event;
  event.source = "kafka";
  event.type = "kafka.record";
  std::string partition = std::to_string(record.partition);
  std::string offset = std::to_string(record.offset);
  event.id.reserve(record.topic.size() + partition.size() + offset.size() + 2);
  event.id += record.topic;
  event.id += '/';
  event.id += partition;
  event.id += '/';
  event.id += offset;
  event.subject = std::move(record.topic);
  event.partition = record.partition;
  event.offset = record.offset;
  // A timestamp the clock cannot hold (a producer may set any) reads as the arrival time.
  std::optional<std::chrono::system_clock::time_point> stamped;
  if (record.timestampMs) stamped = fromEpoch<std::chrono::milliseconds>(*record.timestampMs);
  event.time = stamped ? *stamped : clock_.wallNow();
  event.key = std::move(record.key);
  event.headers = std::move(record.headers);
  event.data = std::move(record.value);
  if (options_.httpInvocations) {
    event.source = "http";
    event.type = "http.request";
    event.subject = options_.triggerName;
    if (event.key && !event.key->empty()) event.id = std::move(*event.key);
    event.key.reset();
  }
  return event;
}

void KafkaSource::dispatchEvents(const std::shared_ptr<PartitionState>& state, std::vector<Event> events) {
  auto done = [this, state](std::vector<Event> finished, const std::vector<Outcome>& outcomes) {
    {
      std::lock_guard lock(mu_);
      completions_.push_back(Completion{state, std::move(finished), outcomes});
    }
    completionsCv_.notify_one();
  };
  if (options_.ordered) {
    // The delivery loop takes a batch of at most batchSize when the handler gets lists.
    dispatcher_->dispatchBatch(std::move(events), laneOf(state->topic, state->partition), options_.triggerName, done);
    return;
  }
  // No lane: each group is free to run beside the others (the tracker keeps commits in order).
  const size_t group = std::max<size_t>(1, options_.unorderedBatch);
  for (size_t first = 0; first < events.size(); first += group) {
    const size_t last = std::min(events.size(), first + group);
    std::vector<Event> part(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(first)),
                            std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(last)));
    dispatcher_->dispatchBatch(std::move(part), "", options_.triggerName, done);
  }
}

void KafkaSource::waitForCompletions(std::chrono::milliseconds timeout) {
  // A short real-time wait, as the delivery loop's capacity wait: polling, not a timed behaviour.
  std::unique_lock lock(mu_);
  completionsCv_.wait_for(lock, timeout, [&] { return !completions_.empty() || finishing_.load(); });
}

void KafkaSource::processCompletions() {
  std::deque<Completion> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(completions_);
  }
  std::vector<std::shared_ptr<PartitionState>> moved;
  for (Completion& completion : batch) {
    if (completion.state->revoked) continue;  // the partition moved on; its new owner decides
    const std::optional<int64_t> before = completion.state->tracker.commitPosition();
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
    if (completion.state->tracker.commitPosition() != before) moved.push_back(completion.state);
  }
  // A finished record is replayed by a kill until its commit is confirmed, so
  // the commit goes now rather than at the next round (at 10,000 records/s a
  // partition finished ~100 records while waiting for it), unless the
  // partition already awaits a confirmation: then the round after it
  // carries the rest, and one commit per partition is out at a time.
  std::erase_if(moved, [](const std::shared_ptr<PartitionState>& state) {
    return state->lastCommitted > state->lastAcked || state->lastCommitted < 0;
  });
  std::sort(moved.begin(), moved.end());
  moved.erase(std::unique(moved.begin(), moved.end()), moved.end());
  if (!moved.empty() && !holdForCommits_) commit(false, moved);
}

void KafkaSource::commit(bool synchronous, const std::vector<std::shared_ptr<PartitionState>>& only) {
  std::vector<KafkaPartition> offsets;
  // The window follows the records dispatched per commit interval (not per
  // commit: commits that raise the limit come more often).
  const Clock::TimePoint now = clock_.now();
  const bool rotate = !synchronous && only.empty() && now >= nextWindowRotation_;
  if (rotate) nextWindowRotation_ = now + options_.commitInterval;
  auto add = [&](PartitionState& state) {
    if (auto offset = commitOf(state, synchronous)) offsets.push_back(std::move(*offset));
    if (rotate) {
      state.dispatchedLastInterval = state.dispatchedThisInterval;
      state.dispatchedThisInterval = 0;
    }
  };
  if (only.empty()) {
    for (auto& [lane, state] : partitions_) add(*state);
  } else {
    for (const auto& state : only) add(*state);
  }
  if (offsets.empty()) return;
  Status sent = synchronous ? consumer_->commitSync(offsets) : consumer_->commitAsync(offsets);
  if (synchronous && sent.isOk()) {
    for (const KafkaPartition& offset : offsets) {
      auto it = partitions_.find(laneOf(offset.topic, offset.partition));
      if (it != partitions_.end() && offset.error.empty()) {
        it->second->lastAcked = std::max(it->second->lastAcked, offset.offset);
      }
    }
  }
  if (!sent.isOk()) {
    SLUICE_LOG_WARN("kafka trigger {}: commit of {} partition(s) failed: {}", options_.triggerName, offsets.size(),
                    sent.message());
  } else {
    commitsWritten_ += static_cast<int64_t>(offsets.size());
  }
}

std::optional<KafkaPartition> KafkaSource::commitOf(PartitionState& state, bool synchronous) {
  // Before anything finished, everything from the first record of this
  // assignment is unfinished: that is the position.
  std::optional<int64_t> position = state.tracker.commitPosition();
  if (!position && state.firstFetched >= 0) position = state.firstFetched;
  if (!position && state.committedAtAssign >= 0) position = state.committedAtAssign;
  if (!position) return std::nullopt;
  const bool leaving = synchronous || finishing_;
  const int64_t window = dispatchWindow(state.dispatchedLastInterval, options_.maxBatch);
  const int64_t frontier = std::max({*position, state.nextFetch, state.dispatchedEnd});
  const bool inProbation = state.probation.covers(std::max(*position, state.dispatchedEnd));
  int64_t limit = state.limitSent;
  if (leaving) {
    // Nothing past what was dispatched was handled here; an unfinished probation stays one.
    limit = std::max({*position, state.dispatchedEnd, state.probation.end});
  } else if (inProbation) {
    limit = std::max(state.limitSent, state.probation.end);
  } else if (*position > state.lastCommitted || state.limitSent < frontier + window / 2) {
    // Riding on a commit that goes anyway, or making one before dispatch would wait.
    limit = std::max(state.limitSent, frontier + window);
  }
  const bool moved = *position > state.lastCommitted || limit != state.limitSent;
  if (!moved && !synchronous) return std::nullopt;
  CrashMark mark{limit, *position == state.markOffset ? state.markExits : -1};
  noteCommitSent(state, *position);
  state.limitSent = limit;
  return KafkaPartition{state.topic, state.partition, *position, "", formatCrashMark(mark)};
}

void KafkaSource::noteCommitSent(PartitionState& state, int64_t offset) {
  state.lastCommitted = offset;
  state.committedAt = clock_.now();
  state.rebalancesAtCommit = rebalances_;
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
// A cluster that does not answer at all (its brokers are gone) cannot confirm
// anything before the deadline: the member stops waiting once a metadata
// request finds no broker, and returns false. The unconfirmed records are
// copied or processed again by the next owner, none is lost.
bool KafkaSource::commitBeforeLeaving() {
  if (!paused_) pauseAll();
  commit(false);
  int rounds = 0;
  bool reachable = true;
  bool probed = false;
  const Clock::TimePoint probeAt = clock_.now() + kReachabilityProbeAfter;
  std::vector<KafkaRecord> dropped;
  while (!everyCommitAcknowledged() && !consumer_->assignmentLost() && clock_.now() < finishDeadline_) {
    if (!probed && clock_.now() >= probeAt) {
      probed = true;
      reachable = consumer_->clusterReachable(kReachabilityTimeout);
      if (!reachable) break;
    }
    consumer_->consume(dropped, 1, kConsumeTimeout);
    dropped.clear();
    commit(false);  // sends again only what the broker refused (onCommitted forgets it)
    ++rounds;
  }
  if (!everyCommitAcknowledged()) {
    SLUICE_LOG_WARN("kafka trigger {}: leaving group {} with commits unconfirmed after {} round(s){}",
                    options_.triggerName, options_.consumerGroup, rounds,
                    !reachable                    ? " (no broker of the cluster answers)"
                    : consumer_->assignmentLost() ? " (assignment lost)"
                                                  : "");
  } else if (rounds > 0) {
    SLUICE_LOG_INFO("kafka trigger {}: final commit confirmed after {} polling round(s) (the group was rebalancing)",
                    options_.triggerName, rounds);
  }
  return reachable;
}

bool KafkaSource::everyCommitAcknowledged() const {
  for (const auto& [lane, state] : partitions_) {
    auto position = state->tracker.commitPosition();
    if (position && *position > state->lastAcked) return false;
  }
  return true;
}

int64_t KafkaSource::unconfirmedRecords() const {
  int64_t unconfirmed = 0;
  for (const auto& [lane, state] : partitions_) {
    auto position = state->tracker.commitPosition();
    if (position) unconfirmed += std::max<int64_t>(*position - std::max(state->lastAcked, state->firstFetched), 0);
  }
  return unconfirmed;
}

void KafkaSource::updateCommitHold(Clock::TimePoint now) {
  const int64_t unconfirmed = unconfirmedRecords();
  if (unconfirmed == 0) confirmedOrIdle_ = now;
  // A confirmation is due within one commit interval of a record finishing.
  const bool stalled =
      unconfirmed > 0 && now - confirmedOrIdle_ > options_.commitInterval + confirmationPace_.stallAfter();
  holdForCommits_ = stalled || unconfirmed > options_.maxUnconfirmed;
}

void KafkaSource::onCommitted(const std::vector<KafkaPartition>& offsets) {
  for (const KafkaPartition& offset : offsets) {
    auto it = partitions_.find(laneOf(offset.topic, offset.partition));
    if (offset.error.empty()) {
      const Clock::TimePoint now = clock_.now();
      confirmedOrIdle_ = now;
      if (it == partitions_.end()) continue;
      // The newest commit of the partition: its round trip. (An older one
      // confirmed while a newer is out says nothing of how long it took, and
      // one that waited out a rebalance is the stall itself, not the broker's
      // pace: counted, it raised the threshold to its ceiling for seconds, and
      // a kill then replayed 700 records.)
      const PartitionState& state = *it->second;
      if (offset.offset == state.lastCommitted && state.rebalancesAtCommit == rebalances_)
        confirmationPace_.confirmed(state.committedAt, now);
      it->second->lastAcked = std::max(it->second->lastAcked, offset.offset);
      if (auto mark = parseCrashMark(offset.metadata)) {
        it->second->limitAcked = std::max(it->second->limitAcked, mark->limit);
        if (mark->inflight >= 0 && offset.offset == it->second->markOffset) it->second->markAcked = offset.offset;
      }
      continue;
    }
    if (it != partitions_.end() && offset.offset == it->second->markOffset) it->second->markSent = false;
    // Forget the position only if nothing newer was sent since: the next round then repeats it.
    if (it != partitions_.end() && it->second->lastCommitted == offset.offset) it->second->lastCommitted = -1;
    SLUICE_LOG_WARN("kafka trigger {}: commit of {}/{}@{} failed ({}); retrying", options_.triggerName, offset.topic,
                    offset.partition, offset.offset, offset.error);
  }
}

void KafkaSource::reportLag() {
  // A partition nothing was fetched from yet (e.g. held back by the in-flight
  // limit) starts at its committed offset, or where initialOffset points.
  std::vector<KafkaPartition> unknown;
  for (auto& [lane, state] : partitions_) {
    if (!state->tracker.commitPosition() && state->nextFetch < 0)
      unknown.push_back({state->topic, state->partition, kKafkaNoOffset, "", ""});
  }
  std::map<std::string, int64_t> committed;
  if (!unknown.empty() && consumer_->committed(unknown, kBrokerQueryTimeout).isOk()) {
    for (const KafkaPartition& p : unknown) committed[laneOf(p.topic, p.partition)] = p.offset;
  }
  for (auto& [lane, state] : partitions_) {
    // Nothing fetched yet, so nothing cached, or paused, so the cache is stale: ask the broker.
    std::optional<KafkaWatermarks> marks;
    if (!paused_) marks = consumer_->watermarks(state->topic, state->partition, false, kBrokerQueryTimeout);
    if (!marks || marks->high < 0) {
      marks = consumer_->watermarks(state->topic, state->partition, true, kBrokerQueryTimeout);
    }
    if (!marks || marks->high < 0) continue;
    int64_t position = state->tracker.commitPosition().value_or(state->nextFetch);
    if (position < 0) {
      auto it = committed.find(lane);
      if (it != committed.end() && it->second >= 0) {
        position = it->second;
      } else if (it != committed.end()) {
        position = options_.initialOffset == "earliest" ? marks->low : marks->high;
      } else {
        continue;
      }
    }
    metrics_.setConsumerLag(state->topic, state->partition,
                            static_cast<double>(std::max<int64_t>(marks->high - position, 0)));
  }
}

void KafkaSource::pauseAll() {
  if (auto assignment = consumer_->assignment(); !assignment.empty()) consumer_->pause(assignment);
  paused_ = true;
}

void KafkaSource::resumeAll() {
  std::vector<KafkaPartition> assignment = consumer_->assignment();
  // A partition that holds records back stays paused until they go.
  std::erase_if(assignment, [&](const KafkaPartition& p) {
    auto it = partitions_.find(laneOf(p.topic, p.partition));
    return it != partitions_.end() && it->second->heldPaused;
  });
  if (!assignment.empty()) consumer_->resume(assignment);
  paused_ = false;
}

void KafkaSource::onAssign(const std::vector<KafkaPartition>& partitions, bool cooperative) {
  ++rebalances_;
  bool again = !deferredAssign_.empty();
  for (const KafkaPartition& p : partitions) again = again || revokedInRound_.contains(laneOf(p.topic, p.partition));
  if (inRound_ && again) {
    // The round may hold records of the assignment just revoked; they must
    // not pass as this one's. The consumer accepts the assign call later.
    deferredAssign_.insert(deferredAssign_.end(), partitions.begin(), partitions.end());
    deferredCooperative_ = cooperative;
    SLUICE_LOG_INFO("kafka trigger {}: assignment of {} partition(s) deferred to the end of the fetch round",
                    options_.triggerName, partitions.size());
    return;
  }
  assign(partitions, cooperative);
}

void KafkaSource::assign(const std::vector<KafkaPartition>& partitions, bool cooperative) {
  std::vector<std::shared_ptr<PartitionState>> states;
  for (const KafkaPartition& p : partitions) {
    auto state = std::make_shared<PartitionState>();
    state->topic = p.topic;
    state->partition = p.partition;
    partitions_[laneOf(p.topic, p.partition)] = state;
    states.push_back(state);
  }
  readCrashMarks(states);
  if (Status assigned = consumer_->assign(partitions, cooperative); !assigned.isOk()) {
    SLUICE_LOG_ERROR("kafka trigger {}: assign: {}", options_.triggerName, assigned.message());
  }
  if (paused_ || !fetching_) consumer_->pause(partitions);
  SLUICE_LOG_INFO("kafka trigger {}: assigned {} partition(s) ({} rebalance), {} now owned{}{}", options_.triggerName,
                  partitions.size(), cooperative ? "cooperative" : "eager", partitions_.size(),
                  partitions.empty() ? "" : ": ", namesOf(partitions));
}

void KafkaSource::readCrashMarks(const std::vector<std::shared_ptr<PartitionState>>& states) {
  std::vector<KafkaPartition> committed;
  committed.reserve(states.size());
  for (const auto& state : states) committed.push_back({state->topic, state->partition, kKafkaNoOffset, "", ""});
  if (Status read = consumer_->committed(committed, kBrokerQueryTimeout); !read.isOk()) {
    // Without the marks a record that killed the previous owner is not counted this time.
    SLUICE_LOG_WARN("kafka trigger {}: reading the committed offsets' crash marks failed: {}", options_.triggerName,
                    read.message());
    return;
  }
  for (size_t i = 0; i < states.size(); ++i) {
    PartitionState& state = *states[i];
    state.committedAtAssign = committed[i].offset;
    state.probation = probationAfter(committed[i].offset, committed[i].metadata);
    if (committed[i].offset >= 0 && state.probation.covers(committed[i].offset)) {
      SLUICE_LOG_WARN(
          "kafka trigger {}: {}/{}: the previous owner left records {}..{} unfinished (a crash?): handling them one "
          "at a time{}",
          options_.triggerName, state.topic, state.partition, committed[i].offset, state.probation.end - 1,
          state.probation.suspect >= 0
              ? ", record " + std::to_string(state.probation.suspect) + " after " +
                    std::to_string(state.probation.suspectExits) + " process exit(s) while handling it"
              : "");
    }
  }
}

void KafkaSource::applyDeferredAssign() {
  if (deferredAssign_.empty()) return;
  std::vector<KafkaPartition> partitions;
  partitions.swap(deferredAssign_);
  assign(partitions, deferredCooperative_);
}

void KafkaSource::onRevoke(const std::vector<KafkaPartition>& partitions, bool lost) {
  ++rebalances_;
  // A deferred assignment stays deferred: the group waits for it before the
  // next change, so this concerns what the consumer has assigned (partitions_).
  std::vector<std::shared_ptr<PartitionState>> revoked;
  for (const KafkaPartition& p : partitions) {
    auto it = partitions_.find(laneOf(p.topic, p.partition));
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
    // Synchronous, so the next owner starts after it; but not while leaving:
    // the drain already confirmed what it could (commitBeforeLeaving), and a
    // synchronous commit to a coordinator that is gone waits without a bound
    // (librdkafka defers it for session.timeout.ms). Close still waits for an
    // asynchronous one, within its budget.
    commit(!finishing_, revoked);
  }
  for (const auto& state : revoked) {
    if (inRound_) revokedInRound_.insert(laneOf(state->topic, state->partition));
    state->revoked = true;
    state->held.clear();  // never dispatched, never committed: the next owner reads them
    partitions_.erase(laneOf(state->topic, state->partition));
    metrics_.removeConsumerLag(state->topic, state->partition);
  }
  SLUICE_LOG_INFO("kafka trigger {}: revoked {} partition(s){}, {} still owned{}{}", options_.triggerName,
                  partitions.size(), lost ? " (assignment lost)" : "", partitions_.size(),
                  partitions.empty() ? "" : ": ", namesOf(partitions));
}

}  // namespace sluice::runtime
