// KafkaSource's bookkeeping over the in-memory group of
// fakes/fake_kafka_consumer.h (no broker): only the contiguous prefix of done
// records is committed; a revoke served in the middle of a fetch commits what
// finished (waiting for what is in flight, on the source's clock) and never a
// record not done, and drops the round's records of the revoked partition; a
// lost assignment commits nothing; an assignment of a partition revoked in the
// same round is deferred, so its records are neither skipped nor repeated; a
// reassigned partition resumes from the committed offset; paused partitions
// (an output that cannot be written) resume; a failed commit is sent again.
#include "runtime/sources/kafka_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_kafka_consumer.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeClock;
using sluice::testing::FakeKafkaGroup;

const FakeKafkaGroup::Partition kP0{"orders", 0};
const FakeKafkaGroup::Partition kP1{"orders", 1};

// Holds every dispatched batch until the test completes it.
class HoldingDispatcher final : public EventDispatcher {
 public:
  struct Batch {
    std::vector<Event> events;
    std::string lane;
    BatchCompletionCallback done;
  };
  bool waitForCapacity(std::chrono::milliseconds) override { return true; }
  Status intakeStatus() override {
    std::lock_guard lock(mu_);
    return intake_;
  }
  void dispatch(Event, std::string, std::string, CompletionCallback) override {
    ADD_FAILURE() << "the Kafka source dispatches batches";
  }
  void dispatchBatch(std::vector<Event> events, std::string lane, std::string, BatchCompletionCallback done) override {
    std::lock_guard lock(mu_);
    batches_.push_back({std::move(events), std::move(lane), std::move(done)});
    changed_.notify_all();
  }

  void setIntake(Status status) {
    std::lock_guard lock(mu_);
    intake_ = std::move(status);
  }
  // Waits (up to 10 s) until `count` batches were dispatched in all.
  bool waitForBatches(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return batches_.size() >= count; });
  }
  // Waits (up to 10 s) until `count` records of `lane` were dispatched in all.
  bool waitForRecords(const std::string& lane, size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] {
      size_t records = 0;
      for (const Batch& batch : batches_) records += batch.lane == lane ? batch.events.size() : 0;
      return records >= count;
    });
  }
  size_t batches() const {
    std::lock_guard lock(mu_);
    return batches_.size();
  }
  std::vector<Event> events(size_t batch) const {
    std::lock_guard lock(mu_);
    return batches_.at(batch).events;
  }
  // The offsets of every dispatched record of `lane`, in dispatch order.
  std::vector<int64_t> offsets(const std::string& lane) const {
    std::lock_guard lock(mu_);
    std::vector<int64_t> out;
    for (const Batch& batch : batches_) {
      if (batch.lane != lane) continue;
      for (const Event& event : batch.events) out.push_back(*event.offset);
    }
    return out;
  }
  void complete(size_t index, Outcome outcome = Outcome::kAcked) {
    BatchCompletionCallback done;
    std::vector<Event> events;
    {
      std::lock_guard lock(mu_);
      done = std::move(batches_.at(index).done);
      events = batches_.at(index).events;
    }
    std::vector<Outcome> outcomes(events.size(), outcome);
    done(std::move(events), outcomes);
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Batch> batches_;
  Status intake_ = Status::ok();
};

class KafkaSourceTest : public ::testing::Test {
 protected:
  void start(int maxBatch = 500) {
    KafkaSourceOptions options;
    options.triggerName = "orders";
    options.bootstrapServers = "fake:9092";
    options.topics = {"orders"};
    options.consumerGroup = "billing";
    options.initialOffset = "earliest";
    options.commitInterval = kCommitInterval;
    options.revokeTimeout = kRevokeTimeout;
    options.lagInterval = 1h;
    options.maxBatch = maxBatch;
    options.maxUnconfirmed = maxUnconfirmed_;
    options.httpInvocations = httpInvocations_;
    options.ordered = ordered_;
    source_ = std::make_unique<KafkaSource>(options, metrics_, clock_, group_.consumer());
    ASSERT_TRUE(source_->start(dispatcher_).isOk());
  }
  void TearDown() override {
    if (!source_) return;
    // A test that failed may leave the source waiting on fake time (a revoke waiting for records in
    // flight): let that time pass, so the failure is reported instead of hanging the run.
    if (HasFailure()) clock_.advance(kRevokeTimeout + std::chrono::seconds(1));
    source_->stopFetching();
    EXPECT_TRUE(source_->finish(clock_.now()).isOk());
  }

  // Assigns inside a poll and returns once that poll is over: a test that then holds the group and
  // produces knows no poll already under way reads what it produced (under load, the poll that
  // served the assignment went on to read them, and a later revoke waited on them for ever).
  void assignAndWait(std::vector<FakeKafkaGroup::Partition> partitions) {
    group_.assignInsidePoll(partitions);
    ASSERT_TRUE(group_.waitFor([&](const FakeKafkaGroup& g) {
      for (const auto& [topic, partition] : partitions) {
        if (!g.assigned(topic, partition)) return false;
      }
      return !g.polling();
    }));
  }
  // Starts the source taking one record per round, owning partition 0 of
  // "orders" with `records` records in it, each dispatched as a batch of its own.
  void startWithOneRecordBatches(int records) {
    start(/*maxBatch=*/1);
    assignAndWait({kP0});
    for (int i = 0; i < records; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
    ASSERT_TRUE(dispatcher_.waitForBatches(static_cast<size_t>(records)));
  }
  // The next periodic commit is due; waits until it was sent.
  // (Counted from the commits already sent: the first one, which carries the
  // dispatch limit, goes out before any record is dispatched.)
  void commitRound() {
    const int before = group_.commitsSent();
    clock_.advance(kCommitInterval);
    ASSERT_TRUE(group_.waitFor([&](const FakeKafkaGroup& g) { return g.commitsSent() > before; }));
  }
  int64_t committed(const FakeKafkaGroup::Partition& p) { return group_.committedOffset(p.first, p.second); }
  // `rounds` commit intervals pass, each given a moment to act on.
  void letRoundsPass(int rounds) {
    for (int round = 0; round < rounds; ++round) {
      clock_.advance(kCommitInterval);
      std::this_thread::sleep_for(20ms);
    }
  }
  // Commit rounds come (a finished record's commit goes at once, but one
  // awaiting confirmation leaves the rest to a round) until p's committed
  // offset is `offset`; false if it is not within 10 s.
  bool committedReaches(const FakeKafkaGroup::Partition& p, int64_t offset) {
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      if (committed(p) == offset) return true;
      clock_.advance(kCommitInterval);
      std::this_thread::sleep_for(5ms);
    }
    return committed(p) == offset;
  }

  static constexpr std::chrono::milliseconds kCommitInterval{1000};
  static constexpr std::chrono::milliseconds kRevokeTimeout{30000};
  bool httpInvocations_ = false;
  bool ordered_ = true;
  int64_t maxUnconfirmed_ = 500;
  FakeClock clock_;
  RuntimeMetrics metrics_;
  FakeKafkaGroup group_;
  HoldingDispatcher dispatcher_;
  std::unique_ptr<KafkaSource> source_;  // last: stopped before the group and dispatcher go
};

// A producer may stamp any time: one the clock can hold is the event's time, one
// it cannot (past the year 2262) reads as the arrival time instead of overflowing.
TEST_F(KafkaSourceTest, ARecordsTimestampIsTheEventTimeUnlessTheClockCannotHoldIt) {
  start();
  assignAndWait({kP0});
  group_.produce("orders", 0, "stamped", std::nullopt, 1'428'582'896'123);
  group_.produce("orders", 0, "far", std::nullopt, INT64_MAX);
  ASSERT_TRUE(dispatcher_.waitForRecords("orders/0", 2));
  std::vector<Event> events;
  for (size_t b = 0; b < dispatcher_.batches(); ++b) {
    for (Event& e : dispatcher_.events(b)) events.push_back(std::move(e));
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].time, std::chrono::system_clock::time_point(std::chrono::milliseconds(1'428'582'896'123)));
  EXPECT_EQ(events[1].data, "far");
  EXPECT_EQ(events[1].time, clock_.wallNow());
}

TEST_F(KafkaSourceTest, CommitsOnlyTheContiguousPrefixOfDoneRecords) {
  startWithOneRecordBatches(4);
  ASSERT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1, 2, 3}));

  dispatcher_.complete(0);
  dispatcher_.complete(2);
  ASSERT_TRUE(committedReaches(kP0, 1));
  letRoundsPass(3);
  EXPECT_EQ(committed(kP0), 1);  // 1 is still in flight: 2 is done but not committed

  dispatcher_.complete(1);
  EXPECT_TRUE(committedReaches(kP0, 3));  // 0..2 done; 3 in flight

  dispatcher_.complete(3);
  EXPECT_TRUE(committedReaches(kP0, 4));
}

// ordering: partition puts a partition's records on its lane (one after
// another); ordering: none dispatches each on no lane (free to run at once),
// and the commit still never passes a record in flight.
// A finished record is replayed by a kill until its commit is confirmed: the
// commit goes when the record finishes, not at the next round (the fake
// clock stands still here, so no round comes).
TEST_F(KafkaSourceTest, AFinishedRecordsCommitGoesAtOnce) {
  startWithOneRecordBatches(2);
  dispatcher_.complete(0);
  EXPECT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.committed("orders", 0) == 1; }));
  dispatcher_.complete(1);
  EXPECT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.committed("orders", 0) == 2; }));
}

TEST_F(KafkaSourceTest, OrderingPartitionUsesThePartitionsLane) {
  start();
  assignAndWait({kP0});
  for (int i = 0; i < 3; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  ASSERT_TRUE(dispatcher_.waitForRecords("orders/0", 3));
  EXPECT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(dispatcher_.offsets(""), std::vector<int64_t>{});
}

TEST_F(KafkaSourceTest, OrderingNoneDispatchesEachRecordOnNoLaneAndCommitsInOrder) {
  ordered_ = false;
  start();
  assignAndWait({kP0});
  for (int i = 0; i < 3; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  ASSERT_TRUE(dispatcher_.waitForRecords("", 3));
  EXPECT_EQ(dispatcher_.offsets(""), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(dispatcher_.offsets("orders/0"), std::vector<int64_t>{});
  ASSERT_EQ(dispatcher_.batches(), 3u) << "one record per dispatch, so each can run beside the others";

  dispatcher_.complete(2);
  dispatcher_.complete(0);
  ASSERT_TRUE(committedReaches(kP0, 1));
  letRoundsPass(3);
  EXPECT_EQ(committed(kP0), 1) << "offset 1 is in flight: 2 finished first but is not committed";
  dispatcher_.complete(1);
  EXPECT_TRUE(committedReaches(kP0, 3));
}

TEST_F(KafkaSourceTest, ARevokeInsideAPollCommitsWhatFinishedButNoRecordNotDone) {
  startWithOneRecordBatches(3);
  dispatcher_.complete(0);

  // The group takes the partition away in the middle of the poll that hands over record 3.
  group_.hold(true);
  group_.produce("orders", 0, "r3");
  group_.revokeInsidePoll({kP0}, /*lost=*/false, /*afterRecords=*/1);
  group_.hold(false);

  // The source waits (on its clock, up to revokeTimeout) for records 1 and 2 in flight.
  ASSERT_TRUE(clock_.waitForSleepers(1, 10s));
  dispatcher_.complete(1);
  clock_.advance(kRevokeTimeout);
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return !g.assigned("orders", 0); }));

  EXPECT_EQ(committed(kP0), 2);  // 0 and 1 done; 2 was still in flight, 3 never dispatched
  EXPECT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1, 2}));
}

TEST_F(KafkaSourceTest, ARevokeInsideAPollDropsTheRoundsRecordsOfThatPartition) {
  start();
  assignAndWait({kP0, kP1});
  group_.hold(true);
  group_.produce("orders", 0, "a");
  group_.produce("orders", 0, "b");
  group_.produce("orders", 1, "c");
  group_.revokeInsidePoll({kP0}, /*lost=*/false, /*afterRecords=*/1);
  group_.hold(false);

  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.rebalancesServed(); }));
  // p0's record was taken before the revoke, in the same round: never dispatched, so never committed.
  EXPECT_EQ(dispatcher_.offsets("orders/0"), std::vector<int64_t>{});
  EXPECT_EQ(dispatcher_.offsets("orders/1"), std::vector<int64_t>{0});
  EXPECT_EQ(committed(kP0), kKafkaNoOffset);
}

TEST_F(KafkaSourceTest, ALostAssignmentCommitsNothing) {
  startWithOneRecordBatches(2);
  const int sent = group_.commitsSent();  // the first commit, whose dispatch limit let the records go

  group_.revokeInsidePoll({kP0}, /*lost=*/true);
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return !g.assigned("orders", 0); }));
  // Finished after the loss: another member may own the partition already.
  dispatcher_.complete(0);
  dispatcher_.complete(1);
  letRoundsPass(3);
  EXPECT_EQ(committed(kP0), 0);  // 0 and 1 are not committed
  EXPECT_EQ(group_.commitsSent(), sent);
}

TEST_F(KafkaSourceTest, AReassignedPartitionResumesFromTheCommittedOffset) {
  startWithOneRecordBatches(4);
  dispatcher_.complete(0);
  dispatcher_.complete(1);
  ASSERT_TRUE(committedReaches(kP0, 2));

  group_.revokeInsidePoll({kP0}, /*lost=*/true);
  group_.assignInsidePoll({kP0});
  // The assignment was lost, not handed over cleanly: the records below the
  // last commit's limit go one at a time, each behind a crash mark (charged
  // the unattributed death, should it die alone).
  ASSERT_TRUE(dispatcher_.waitForBatches(5));
  EXPECT_EQ(group_.committedMetadata("orders", 0).find(" inflight=1") != std::string::npos, true)
      << group_.committedMetadata("orders", 0);
  dispatcher_.complete(4);
  ASSERT_TRUE(dispatcher_.waitForBatches(6));
  EXPECT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1, 2, 3, 2, 3}));
}

TEST_F(KafkaSourceTest, AnAssignmentInTheRoundThatRevokedThePartitionIsDeferredSoNoRecordIsLost) {
  start();
  assignAndWait({kP0});
  group_.hold(true);
  for (int i = 0; i < 3; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  // Taken away after record 0 of the poll, and given back in the same poll.
  group_.revokeInsidePoll({kP0}, /*lost=*/false, /*afterRecords=*/1);
  group_.assignInsidePoll({kP0}, /*afterRecords=*/1);
  group_.hold(false);

  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.rebalancesServed(); }));
  // Record 0 of the ended assignment was dropped; the new one reads 0..2 from the committed offset, once each.
  ASSERT_TRUE(dispatcher_.waitForRecords("orders/0", 3));
  EXPECT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1, 2}));
  // The first assignment was taken inside its poll; the second only after the round.
  EXPECT_EQ(group_.assignsInsidePoll(), 1);
}

TEST_F(KafkaSourceTest, PausedPartitionsResumeWhenTheOutputWorksAgain) {
  dispatcher_.setIntake(unavailable("kafka output \"out\": authentication failed"));
  start();
  assignAndWait({kP0});
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.paused("orders", 0); }));
  group_.produce("orders", 0, "a");
  assignAndWait({kP1});  // assigned while paused: paused too
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.paused("orders", 1); }));
  group_.produce("orders", 1, "b");
  EXPECT_EQ(dispatcher_.batches(), 0u);

  dispatcher_.setIntake(Status::ok());
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return !g.paused("orders", 0) && !g.paused("orders", 1); }));
  ASSERT_TRUE(dispatcher_.waitForBatches(2));
  EXPECT_EQ(dispatcher_.offsets("orders/0"), std::vector<int64_t>{0});
  EXPECT_EQ(dispatcher_.offsets("orders/1"), std::vector<int64_t>{0});
}

TEST_F(KafkaSourceTest, AFailedCommitIsSentAgain) {
  start();
  assignAndWait({kP0});
  group_.hold(true);
  group_.produce("orders", 0, "a");
  group_.produce("orders", 0, "b");
  group_.hold(false);
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  ASSERT_EQ(dispatcher_.offsets("orders/0"), (std::vector<int64_t>{0, 1}));
  const int before = group_.commitsSent();
  group_.failCommits(1);
  dispatcher_.complete(0);  // its commit goes at once, and fails
  // The failure reaches the source in its next poll; the next round sends the position again.
  ASSERT_TRUE(group_.waitFor(
      [&](const FakeKafkaGroup& g) { return g.commitsSent() > before && g.commitResultsPending() == 0; }));
  EXPECT_EQ(committed(kP0), 0);  // still the first commit's, made before dispatching
  EXPECT_TRUE(committedReaches(kP0, 2));
}

// Completes every batch dispatched from batch `done` on until none comes for 300 ms; returns how
// many were dispatched in all.
size_t completeUntilDispatchWaits(HoldingDispatcher& dispatcher, size_t done) {
  while (true) {
    while (done < dispatcher.batches()) dispatcher.complete(done++);
    std::this_thread::sleep_for(300ms);
    if (done == dispatcher.batches()) return done;
  }
}

// A kill replays what finished without a confirmed commit, and what was
// dispatched: while the broker confirms nothing (a rebalance holds the
// commits), dispatch stops at maxUnconfirmed finished records, and goes on
// once a commit is confirmed.
TEST_F(KafkaSourceTest, DispatchWaitsWhileMoreThanMaxUnconfirmedFinishedRecordsLackAConfirmedCommit) {
  maxUnconfirmed_ = 3;
  start(/*maxBatch=*/1);
  assignAndWait({kP0});
  group_.produce("orders", 0, "r0");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));  // the first commit, the dispatch limit, was confirmed
  group_.failCommits(1'000'000);
  // One record at a time, each finished before the next arrives (the in-flight window is not what this measures).
  size_t dispatched = 1;
  dispatcher_.complete(0);
  for (int i = 1; i < 20; ++i) {
    group_.produce("orders", 0, "r" + std::to_string(i));
    std::this_thread::sleep_for(200ms);
    if (dispatcher_.batches() == dispatched) continue;  // held: the rest stay held too
    dispatcher_.complete(dispatched++);
  }
  // Four finished are more than three; the record that arrived as the fourth finished may pass too.
  EXPECT_GE(dispatched, 4u);
  EXPECT_LE(dispatched, 5u);
  EXPECT_EQ(committed(kP0), 0);

  group_.failCommits(0);
  commitRound();
  EXPECT_EQ(completeUntilDispatchWaits(dispatcher_, dispatched), 20u);
  EXPECT_TRUE(committedReaches(kP0, 20));
}

// Confirmations that stop coming (commitStall past a commit round) hold
// dispatch back before maxUnconfirmed is reached: a kill in the first moments
// of a rebalance then replays little more than what was in flight.
TEST_F(KafkaSourceTest, DispatchWaitsWhenConfirmationsStopComing) {
  start(/*maxBatch=*/1);
  assignAndWait({kP0});
  group_.produce("orders", 0, "r0");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));  // the first commit, the dispatch limit, was confirmed
  group_.failCommits(1'000'000);
  dispatcher_.complete(0);
  // One finished record and no confirmation for longer than a commit interval and the stall.
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.commitResultsPending() == 0; }));
  clock_.advance(kCommitInterval + KafkaSourceOptions{}.commitStall + 1ms);
  std::this_thread::sleep_for(100ms);  // the source's loop sees the stall
  for (int i = 1; i < 10; ++i) group_.produce("orders", 0, "r" + std::to_string(i));
  std::this_thread::sleep_for(300ms);
  // The round under way when the stall began may pass one record (maxBatch); the other eight wait.
  EXPECT_LE(dispatcher_.batches(), 2u);

  group_.failCommits(0);
  commitRound();
  EXPECT_EQ(completeUntilDispatchWaits(dispatcher_, 1), 10u);
}

TEST_F(KafkaSourceTest, FinishCommitsWhatIsDoneAndLeavesTheGroup) {
  start();
  assignAndWait({kP0});
  group_.produce("orders", 0, "a");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  dispatcher_.complete(0);

  source_->stopFetching();
  ASSERT_TRUE(source_->finish(clock_.now()).isOk());
  source_.reset();
  EXPECT_EQ(committed(kP0), 1);
  ASSERT_TRUE(group_.waitFor([](const FakeKafkaGroup& g) { return g.closed() && !g.assigned("orders", 0); }));
  // The grace was spent (a deadline of now), yet a reachable group still gets a moment for the goodbye.
  EXPECT_EQ(group_.closeBudgets(), std::vector<std::chrono::milliseconds>{3s});
  EXPECT_EQ(group_.reachabilityProbes(), 1);  // once, before waiting on the group
}

// Issue 17: a mirror whose source cluster was killed took ~48 s to exit. Its
// commits can no longer be confirmed; the drain asks once whether any broker
// answers, stops waiting, never makes a synchronous commit (which would wait
// for the coordinator without a bound) and leaves without waiting for the
// group, well before the drain's deadline. Record a's offset is not
// committed: the next owner reads it again (a duplicate, not a loss).
TEST_F(KafkaSourceTest, ADrainGivesUpOnAClusterThatIsGoneInsteadOfWaitingForItsDeadline) {
  start();
  assignAndWait({kP0});
  group_.produce("orders", 0, "a");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  group_.setReachable(false);
  dispatcher_.complete(0);
  source_->stopFetching();
  std::atomic<bool> finished{false};
  std::thread time([&] {
    // Time passes (past the probe's moment) up to 25 s, short of the 30 s
    // deadline, then stands still: a drain that waited for its deadline would
    // hang, so after 10 s more the deadline is let pass to fail the test instead.
    for (int i = 0; i < 500 && !finished; ++i) {
      clock_.advance(50ms);
      std::this_thread::sleep_for(10ms);
    }
    for (int i = 0; i < 1000 && !finished; ++i) std::this_thread::sleep_for(10ms);
    if (!finished) clock_.advance(60s);
  });
  const auto deadline = clock_.now() + 30s;
  EXPECT_TRUE(source_->finish(deadline).isOk());
  finished = true;
  time.join();
  EXPECT_LT(clock_.now(), deadline);
  EXPECT_EQ(group_.reachabilityProbes(), 1);
  EXPECT_EQ(group_.closeBudgets(), std::vector<std::chrono::milliseconds>{0ms});
  EXPECT_EQ(group_.blockingCommits(), 0);
  EXPECT_EQ(committed(kP0), 0);  // the first commit's, made before dispatching: a's never arrived
}

TEST_F(KafkaSourceTest, RecordsBecomeEventsNamedByTopicPartitionAndOffset) {
  start();
  assignAndWait({kP0});
  group_.produce("orders", 0, "{\"n\": 1}", "customer-7");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  const Event event = dispatcher_.events(0).at(0);
  EXPECT_EQ(event.source, "kafka");
  EXPECT_EQ(event.type, "kafka.record");
  EXPECT_EQ(event.id, "orders/0/0");
  EXPECT_EQ(event.subject, "orders");
  EXPECT_EQ(event.key, std::optional<std::string>("customer-7"));
  EXPECT_EQ(event.data, "{\"n\": 1}");
}

TEST_F(KafkaSourceTest, HttpInvocationRecordsBecomeHttpRequestsIdentifiedByTheirKey) {
  httpInvocations_ = true;
  start();
  assignAndWait({kP0});
  group_.produce("orders", 0, "body", "request-42");
  ASSERT_TRUE(dispatcher_.waitForBatches(1));
  const Event event = dispatcher_.events(0).at(0);
  EXPECT_EQ(event.source, "http");
  EXPECT_EQ(event.type, "http.request");
  EXPECT_EQ(event.id, "request-42");
  EXPECT_EQ(event.subject, "orders");  // the trigger's name
  EXPECT_FALSE(event.key.has_value());
  EXPECT_EQ(event.data, "body");
}

}  // namespace
}  // namespace sluice::runtime
