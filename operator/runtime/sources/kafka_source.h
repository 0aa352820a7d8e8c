// KafkaSource: a consumer-group member that feeds Kafka records to the
// delivery loop and commits only what is done.
//
// - enable.auto.commit=false; per partition a PartitionTracker computes the
//   highest offset below which every dispatched record is acknowledged, and
//   only that is committed (asynchronously as records finish, at most one
//   commit per partition awaiting confirmation, and every commitInterval;
//   synchronously on revoke and on finish).
// - Each partition is one delivery lane: order per partition, parallelism
//   across partitions.
// - cooperative-sticky assignment (incremental rebalances: a member joining
//   or leaving moves only the partitions that must move, the rest keep
//   flowing). On revoke the consumer waits (up to revokeTimeout) for the
//   revoked partitions' in-flight records, commits them synchronously, then
//   gives the partitions up, so a graceful move does not replay work that
//   finished here; a lost assignment (session timeout) commits nothing, since
//   another member may already own the partitions. Needs librdkafka >= 2.3
//   (scripts/librdkafka.sh builds 2.12.1): Debian's 2.0.2 aborted in
//   rd_kafka_destroy when a member closed before its first assignment
//   (librdkafka #4312) and failed commits during cooperative rebalances.
// - A failed asynchronous commit is retried: the offset-commit callback marks
//   the partition so the next commit round sends its position again.
// - Batches: each round takes what the consumer has already fetched (up to
//   maxBatch records, without waiting for more) in one call (librdkafka's
//   batch consume, not one consume() per record) and dispatches each
//   partition's records as one batch, so the delivery loop pays one hand-off
//   and one completion per partition per round, not per record.
// - A rebalance served inside that call runs our callback midway through the
//   batch, so a round cannot tell which of its records came before it. Hence:
//   records of a partition revoked during the round are dropped (they were
//   never dispatched, so never committed: the next owner reads them), and a
//   partition revoked during the round is not assigned again until the round
//   has been sorted (the assignment is deferred to the end of the round), so a
//   round never mixes records of two assignments of one partition.
// - Backpressure: no record is fetched while the dispatcher is at its
//   in-flight limit (a round may overshoot it by at most maxBatch).
// - An output that cannot be written (EventDispatcher::intakeStatus, e.g. a
//   Kafka sink with a wrong password): every partition is paused, so nothing
//   new is fetched, while fetch rounds go on so the member stays in
//   its group, and completions and commits go on (records in flight are
//   committed only once written). Fetching resumes where it stopped when the
//   output works again. The lag metric then asks the broker for the high
//   watermark, since a paused partition's cached one no longer moves.
// - Crash marks (kafka_crash_marks.h): every commit carries a dispatch limit
//   in its metadata, and records at or past the acknowledged limit wait
//   (held; their partition is paused only in probation or when many wait)
//   for the next commit; the limit runs a window ahead, so steady state does
//   not wait. A partition taken over from a member that died is in
//   probation: its suspect records are dispatched one at a time, each once a
//   commit marking it in flight with its exit count is confirmed, so a record
//   that kills the process is known to the next owner and dead-lettered
//   after maxAttempts exits (Event::exits).
// The consumer (a KafkaConsumer: librdkafka's, or a test's fake) is used on
// the source's own consumer thread only; completion callbacks from other
// threads are queued to it. Public methods are called from the control thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "runtime/metrics/runtime_metrics.h"
#include "runtime/sources/confirmation_pace.h"
#include "runtime/sources/kafka_consumer.h"
#include "runtime/sources/kafka_crash_marks.h"
#include "runtime/sources/partition_tracker.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

struct KafkaSourceOptions {
  std::string triggerName;
  std::string bootstrapServers;
  std::vector<std::string> topics;
  std::string consumerGroup;
  std::string initialOffset = "latest";           // earliest | latest
  std::map<std::string, std::string> properties;  // extra librdkafka properties (security, timeouts)
  // Every record finished and not yet committed is replayed, a duplicate,
  // when the replica is killed, and so is every record dispatched whose
  // outputs were written. So a partition's commit goes as soon as a record
  // finishes, unless one already awaits confirmation (then the next round,
  // every commitInterval, carries the rest), and dispatch waits while more than
  // maxUnconfirmed finished records lack the broker's confirmation of their
  // commit, or once no confirmation came for a stall (see below) past a commit round.
  // A kill then replays at most maxUnconfirmed, one batch more (the check sees
  // a batch once it finished) and the in-flight window. Confirmations stop
  // while the group rebalances: the coordinator holds a member's JoinGroup
  // until every member rejoined or timed out (a killed one: its whole session
  // timeout), answers nothing else on that connection meanwhile, then refuses
  // the commits of the old generation; unbounded, a kill in that window
  // replayed seconds of work (issue 16).
  std::chrono::milliseconds commitInterval{10};
  // Above what finishes between two confirmations in normal flow. Held
  // there, dispatch waits a confirmation's round trip: what is fetched
  // meanwhile stays in the source (a partition pauses once it holds a
  // batch). Tighter (the trigger's maxInFlight, 200, with a 5 ms stall) the
  // duplicates test ran 203 s instead of about 150 s. A trigger's maxInFlight
  // above it raises it (runtime/control/wiring.cpp).
  int64_t maxUnconfirmed = 500;
  // A rebalance holds confirmations for seconds; normal ones take a few
  // milliseconds on a quiet broker but tens on a loaded one. A fixed 20 ms
  // held ordinary dispatch on the loaded CI machine (kafka_latency_test: p50
  // 37 ms against the raw loop's 6.5, p99 324 ms); a fixed 1 s let a
  // survivor of a kill finish maxUnconfirmed records into a rebalance, all
  // replayed when it was killed in turn. So a stall is a gap twice the
  // slowest confirmation of the last few seconds, within these bounds.
  std::chrono::milliseconds minCommitStall{20};
  std::chrono::milliseconds commitStall{1000};
  std::chrono::milliseconds revokeTimeout{30000};
  std::chrono::milliseconds lagInterval{2000};
  // Records taken per round; so also the largest batch of one partition (the
  // trigger's batchSize when the handler receives lists).
  int maxBatch = 500;
  // Bytes librdkafka may prefetch (queued.max.messages.kbytes, fetch.max.bytes):
  // part of the trigger's in-flight byte budget. 0: librdkafka's defaults.
  int64_t prefetchBytes = 0;
  // The topic holds the gateway's asynchronous HTTP invocations: each record
  // becomes the same "http.request" Event an /invoke call makes (its headers
  // carry method, path, query; its key is the request id and becomes the
  // event id), as RabbitMqSourceOptions::httpInvocations does for a queue.
  bool httpInvocations = false;
  // true (the Trigger's ordering: partition): a partition's records are one
  // lane, handled one after another. false (ordering: none): they are
  // dispatched in groups of at most unorderedBatch on no lane, so groups of
  // one partition run at once up to the Function's concurrency; offsets are
  // still committed only below the first unfinished record.
  bool ordered = true;
  size_t unorderedBatch = 1;
};

class KafkaSource final : public Source, private KafkaConsumerListener {
 public:
  // `consumer`: nullptr for librdkafka's (RdKafkaConsumer).
  KafkaSource(KafkaSourceOptions options, RuntimeMetrics& metrics, Clock& clock,
              std::unique_ptr<KafkaConsumer> consumer = nullptr);
  ~KafkaSource() override;

  const std::string& name() const override { return options_.triggerName; }
  Status start(EventDispatcher& dispatcher) override;
  void stopFetching() override;
  Status finish(Clock::TimePoint deadline) override;

  // Committed offsets written so far (for logs and tests).
  int64_t commitsWritten() const { return commitsWritten_.load(); }

 private:
  struct PartitionState {
    std::string topic;
    int32_t partition = 0;
    PartitionTracker tracker;
    int64_t lastCommitted = -1;       // sent
    int64_t lastAcked = -1;           // confirmed by the broker
    Clock::TimePoint committedAt{};   // when lastCommitted was sent
    uint64_t rebalancesAtCommit = 0;  // rebalances_ then
    int64_t nextFetch = -1;
    bool revoked = false;
    // Crash marks (see the header comment).
    Probation probation;           // from the committed mark read on assignment
    std::deque<KafkaRecord> held;  // fetched, not dispatched yet (probation, or at or past the limit)
    bool heldPaused = false;       // paused because of `held`
    int64_t committedAtAssign = kKafkaNoOffset;
    int64_t firstFetched = -1;   // the first record fetched in this assignment: where its unconfirmed records begin
    int64_t dispatchedEnd = -1;  // one past the last record dispatched
    int64_t limitSent = -1;
    int64_t limitAcked = -1;  // records below it may be dispatched
    int64_t markOffset = -1;  // the record marked in flight (dispatched once the mark is confirmed), and its exits
    int markExits = 0;
    bool markSent = false;   // its mark is on its way
    int64_t markAcked = -1;  // the broker confirmed the mark of this record
    size_t dispatchedThisInterval = 0;
    size_t dispatchedLastInterval = 0;
  };
  struct Completion {
    std::shared_ptr<PartitionState> state;
    std::vector<Event> events;  // handed back for redelivery on kRequeue
    std::vector<Outcome> outcomes;
  };

  void run();
  // `wait`: how long to wait for a record when none is fetched yet.
  void fetchRound(std::chrono::milliseconds wait);
  // Waits (up to `timeout`) until a completion is queued.
  void waitForCompletions(std::chrono::milliseconds timeout);
  void dispatchRound(const std::map<std::string, std::shared_ptr<PartitionState>>& before);
  // Takes up to `room` records into batch_ (appending); returns how many the consumer handed over.
  size_t consumeInto(size_t room, std::chrono::milliseconds timeout);
  Event eventOf(KafkaRecord& record);
  void dispatchEvents(const std::shared_ptr<PartitionState>& state, std::vector<Event> events);
  void processCompletions();
  // Keeps `record` back: in probation, or at or past the acknowledged limit.
  bool mustHold(const PartitionState& state, int64_t offset) const;
  void holdBack(PartitionState& state);
  // Dispatches what `state` holds that may go now: below the limit, or the
  // next probation record once the previous one finished and its mark is written.
  void releaseHeld(const std::shared_ptr<PartitionState>& state);
  void releaseAllHeld();
  // True once the mark of `offset` is confirmed; sends it first.
  bool markInFlight(PartitionState& state, int64_t offset, int exits);
  void noteDispatched(PartitionState& state, size_t count, int64_t lastOffset);
  // The offset and metadata a commit of `state` would send now, if any.
  std::optional<KafkaPartition> commitOf(PartitionState& state, bool synchronous);
  // Records a commit of `offset` as sent: what the confirmation pace is measured against.
  void noteCommitSent(PartitionState& state, int64_t offset);
  void readCrashMarks(const std::vector<std::shared_ptr<PartitionState>>& states);
  void commit(bool synchronous, const std::vector<std::shared_ptr<PartitionState>>& only = {});
  // The drain's last commit, repeated until the broker confirms it (see the definition).
  // false when it gave up because no broker of the cluster answers.
  bool commitBeforeLeaving();
  bool everyCommitAcknowledged() const;
  // Records finished here whose commit the broker has not confirmed yet.
  int64_t unconfirmedRecords() const;
  // Sets holdForCommits_: dispatch waits for confirmations while too many
  // records are unconfirmed, or once confirmations stopped coming (confirmationPace_).
  void updateCommitHold(Clock::TimePoint now);

  void reportLag();
  // KafkaConsumerListener: run on the consumer thread, from inside a consume
  // call, a synchronous commit or close().
  void onAssign(const std::vector<KafkaPartition>& partitions, bool cooperative) override;
  void onRevoke(const std::vector<KafkaPartition>& partitions, bool lost) override;
  void onCommitted(const std::vector<KafkaPartition>& offsets) override;
  void assign(const std::vector<KafkaPartition>& partitions, bool cooperative);
  void applyDeferredAssign();
  void pauseAll();
  void resumeAll();
  static std::string laneOf(const std::string& topic, int32_t partition);

  KafkaSourceOptions options_;
  RuntimeMetrics& metrics_;
  Clock& clock_;
  EventDispatcher* dispatcher_ = nullptr;
  std::unique_ptr<KafkaConsumer> consumer_;  // used by the consumer thread after start()

  // Owned by the consumer thread.
  std::map<std::string, std::shared_ptr<PartitionState>> partitions_;
  Clock::TimePoint nextCommit_{};
  Clock::TimePoint nextLag_{};
  Clock::TimePoint nextWindowRotation_{};  // when dispatchedThisInterval next becomes dispatchedLastInterval
  bool paused_ = false;
  // The last confirmation of a commit, or the last moment nothing awaited one.
  Clock::TimePoint confirmedOrIdle_{};
  bool holdForCommits_ = false;           // see updateCommitHold()
  ConfirmationPace confirmationPace_;     // how long without a confirmation is a stall
  uint64_t rebalances_ = 0;               // assignment callbacks so far (see onCommitted)
  std::vector<KafkaRecord> batch_;        // one round's records, reused
  bool inRound_ = false;                  // a fetch round is taking records (callbacks may run inside)
  std::set<std::string> revokedInRound_;  // lanes revoked during the current round
  // An assignment that arrived during a round and includes a lane revoked in
  // that round: applied when the round's records have been sorted.
  std::vector<KafkaPartition> deferredAssign_;
  bool deferredCooperative_ = true;

  std::mutex mu_;
  std::deque<Completion> completions_;  // guarded by mu_
  std::condition_variable completionsCv_;

  std::atomic<bool> fetching_{true};
  std::mutex dispatchMu_;  // held while checking fetching_ and dispatching one round
  std::atomic<bool> finishing_{false};
  std::atomic<int64_t> commitsWritten_{0};
  Clock::TimePoint finishDeadline_{};  // written before finishing_ is set
  std::thread thread_;
};

}  // namespace sluice::runtime
