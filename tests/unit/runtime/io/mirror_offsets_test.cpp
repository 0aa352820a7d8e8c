// The mirror's consumer-group offset translation (runtime/sinks/mirror_offsets.h):
// the offset-sync store's runs and its translation rule, and the periodic
// group sync on fake clusters and a fake clock (only inactive groups, never
// backwards, regex selection, the mirror's own group left out).
#include "runtime/sinks/mirror_offsets.h"

#include <gtest/gtest.h>

#include <set>

#include "fakes/fake_clock.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

const TopicPartition kP0{"orders", 0};
const std::chrono::system_clock::time_point kT{};

// Copies source offsets [from, to) to consecutive target offsets starting at `target`.
void copy(OffsetSyncStore& store, const TopicPartition& partition, int64_t from, int64_t to, int64_t target) {
  for (int64_t offset = from; offset < to; ++offset) store.delivered(partition, offset, target++, kT);
}

TEST(OffsetSyncStoreTest, AContiguousCopyTranslatesExactly) {
  OffsetSyncStore store;
  copy(store, kP0, 100, 200, 0);  // A's 100..199 are B's 0..99 (A's start was deleted by retention)
  EXPECT_EQ(store.translate(kP0, 100), 0);
  EXPECT_EQ(store.translate(kP0, 150), 50);
  EXPECT_EQ(store.translate(kP0, 200), 100);  // read everything: B's end
  // Ahead of the mirror (read on A, not copied yet): B's end, so those records are read again on B, not lost.
  EXPECT_EQ(store.translate(kP0, 260), 100);
  // Behind everything the mirror copied since it started: unknown, left alone.
  EXPECT_EQ(store.translate(kP0, 99), std::nullopt);
  EXPECT_EQ(store.translate({"orders", 1}, 150), std::nullopt);
  EXPECT_EQ(store.progress().at(kP0).nextSourceOffset, 200);
}

TEST(OffsetSyncStoreTest, AGapOnTheSourceStartsARunAndTranslatesWithoutLoss) {
  OffsetSyncStore store;
  copy(store, kP0, 0, 10, 0);    // A 0..9 -> B 0..9
  copy(store, kP0, 12, 20, 10);  // A 10, 11: a transaction marker and a skipped record; A 12..19 -> B 10..17
  EXPECT_EQ(store.translate(kP0, 5), 5);
  EXPECT_EQ(store.translate(kP0, 10), 10);  // the gap: B 10 holds A 12, the next record after the gap
  EXPECT_EQ(store.translate(kP0, 11), 10);
  EXPECT_EQ(store.translate(kP0, 12), 10);
  EXPECT_EQ(store.translate(kP0, 15), 13);
}

TEST(OffsetSyncStoreTest, AReplayAfterAMirrorRestartUsesTheNewestCopy) {
  OffsetSyncStore store;
  copy(store, kP0, 0, 100, 0);               // A 0..99 -> B 0..99
  copy(store, kP0, 50, 120, 100);            // restarted from its last commit at A 50: A 50..119 -> B 100..169
  EXPECT_EQ(store.translate(kP0, 60), 110);  // the newer copy: reads A 60.. once more from there
  EXPECT_EQ(store.translate(kP0, 30), 30);   // before the replay: the first copy (then the replay: duplicates only)
  EXPECT_EQ(store.translate(kP0, 120), 170);
}

TEST(OffsetSyncStoreTest, KeepsABoundedNumberOfRuns) {
  OffsetSyncStore store(3);
  for (int64_t run = 0; run < 5; ++run) store.delivered(kP0, run * 10, run, kT);  // five runs of one record
  EXPECT_EQ(store.translate(kP0, 15), std::nullopt);                              // the runs at A 0 and 10 were dropped
  EXPECT_EQ(store.translate(kP0, 20), 2);
  EXPECT_EQ(store.translate(kP0, 45), 5);
}

// One fake cluster: groups with committed offsets and members.
class FakeGroups final : public GroupOffsetsClient {
 public:
  std::map<std::string, std::map<TopicPartition, int64_t>> offsets;
  std::set<std::string> activeGroups;
  std::vector<std::string> extraGroups;  // listed with no offsets
  int commits = 0;
  int reads = 0;
  Status failCommit = Status::ok();
  Status failRead = Status::ok();

  Result<std::vector<std::string>> listGroups() override {
    std::vector<std::string> out = extraGroups;
    for (const auto& [group, ignored] : offsets) out.push_back(group);
    return out;
  }
  Result<std::map<TopicPartition, int64_t>> committed(const std::string& group) override {
    ++reads;
    if (!failRead.isOk()) return failRead;
    auto found = offsets.find(group);
    return found == offsets.end() ? std::map<TopicPartition, int64_t>{} : found->second;
  }
  Result<bool> active(const std::string& group) override { return activeGroups.contains(group); }
  Status commit(const std::string& group, const std::map<TopicPartition, int64_t>& positions) override {
    if (!failCommit.isOk()) return failCommit;
    ++commits;
    for (const auto& [partition, offset] : positions) offsets[group][partition] = offset;
    return Status::ok();
  }
};

struct GroupSyncFixture : ::testing::Test {
  OffsetSyncStore store;
  FakeGroups a;
  FakeGroups b;
  sluice::testing::FakeClock clock;

  GroupOffsetSync make(std::vector<std::string> groups, std::string prefix = "A.") {
    return GroupOffsetSync({std::move(groups), std::move(prefix), "the-mirror", 10s}, store, a, b, clock);
  }
};

TEST_F(GroupSyncFixture, CommitsTranslatedOffsetsUnderTheTargetNameOnceEachInterval) {
  copy(store, kP0, 0, 100, 1000);  // B's topic had 1,000 records before
  copy(store, {"orders", 1}, 0, 50, 0);
  a.offsets["billing"] = {{kP0, 40}, {{"orders", 1}, 50}, {{"unmirrored", 0}, 7}};
  auto sync = make({"billing"});
  auto pass = sync.runIfDue();
  ASSERT_TRUE(pass.has_value());
  EXPECT_EQ(pass->committedGroups, std::vector<std::string>{"billing"});
  EXPECT_EQ(pass->partitionsCommitted, 2);
  EXPECT_TRUE(pass->errors.empty());
  EXPECT_EQ(b.offsets["billing"], (std::map<TopicPartition, int64_t>{{{"A.orders", 0}, 1040}, {{"A.orders", 1}, 50}}));
  // Not again within the interval; then again, with the group's progress on A.
  a.offsets["billing"][kP0] = 90;
  clock.advance(9s);
  EXPECT_FALSE(sync.runIfDue().has_value());
  clock.advance(1s);
  ASSERT_TRUE(sync.runIfDue().has_value());
  EXPECT_EQ((b.offsets["billing"][{"A.orders", 0}]), 1090);
  EXPECT_EQ(b.commits, 2);
}

TEST_F(GroupSyncFixture, NeverMovesAGroupBackwardsOrTouchesAnActiveOne) {
  copy(store, kP0, 0, 100, 0);
  a.offsets["billing"] = {{kP0, 40}};
  b.offsets["billing"] = {{{"A.orders", 0}, 70}};  // consumers on B already got further
  auto sync = make({"billing"});
  auto pass = sync.runOnce();
  EXPECT_TRUE(pass.committedGroups.empty());
  EXPECT_EQ(b.commits, 0);
  EXPECT_EQ((b.offsets["billing"][{"A.orders", 0}]), 70);

  a.offsets["billing"] = {{kP0, 95}};
  b.activeGroups.insert("billing");  // now running on B: its own commits rule
  pass = sync.runOnce();
  EXPECT_EQ(pass.activeGroups, std::vector<std::string>{"billing"});
  EXPECT_EQ(b.commits, 0);
  b.activeGroups.clear();
  sync.runOnce();
  EXPECT_EQ((b.offsets["billing"][{"A.orders", 0}]), 95);
}

TEST_F(GroupSyncFixture, ChoosesGroupsByNameAndRegexButNeverTheMirrorsOwn) {
  copy(store, kP0, 0, 10, 0);
  for (const char* group : {"orders-app", "orders-audit", "billing", "other", "the-mirror"})
    a.offsets[group] = {{kP0, 5}};
  auto sync = make({"billing", "^orders-.*", "^the-.*"});
  auto pass = sync.runOnce();
  EXPECT_EQ(pass.committedGroups, (std::vector<std::string>{"billing", "orders-app", "orders-audit"}));
  EXPECT_FALSE(b.offsets.contains("other"));
  EXPECT_FALSE(b.offsets.contains("the-mirror"));
}

TEST_F(GroupSyncFixture, AFailingCommitIsReportedPerGroupAndTheOthersGoOn) {
  copy(store, kP0, 0, 10, 0);
  a.offsets["one"] = {{kP0, 5}};
  a.offsets["two"] = {{kP0, 5}};
  b.failCommit = unavailable("broker down");
  auto pass = make({"one", "two"}, "").runOnce();
  ASSERT_EQ(pass.errors.size(), 2u);
  EXPECT_EQ(pass.errors[0], "group \"one\": Unavailable: target cluster: broker down");
  EXPECT_TRUE(pass.committedGroups.empty());
}

TEST_F(GroupSyncFixture, ASourceThatDoesNotAnswerEndsThePassAtTheFirstGroup) {
  copy(store, kP0, 0, 10, 0);
  a.offsets["one"] = {{kP0, 5}};
  a.offsets["two"] = {{kP0, 5}};
  a.failRead = Status(StatusCode::kDeadlineExceeded, "no answer within 15 s");
  auto pass = make({"one", "two"}).runOnce();
  ASSERT_EQ(pass.errors.size(), 1u);
  EXPECT_EQ(pass.errors[0], "group \"one\": DeadlineExceeded: source cluster: no answer within 15 s");
  EXPECT_EQ(a.reads, 1);  // "two" was not asked: the cluster is gone, each would wait out the timeout
  a.failRead = unavailable("not coordinator");  // an answer, if an error: the other groups go on
  pass = make({"one", "two"}).runOnce();
  EXPECT_EQ(pass.errors.size(), 2u);
  EXPECT_EQ(b.commits, 0);
}

}  // namespace
}  // namespace sluice::runtime
