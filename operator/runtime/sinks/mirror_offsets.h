// Consumer-group failover for a Kafka mirror (issue 17): where each source
// record landed on the target, and the translation of consumer groups'
// committed offsets on the source cluster (A) into positions on the target (B).
//
// OffsetSyncStore: the mirror's Kafka output tells it, as each write is
// acknowledged, "the record read at offset u of this partition on A is at
// offset d on B". Consecutive pairs (u+1 written at d+1) extend one run, so a
// partition copied without gaps is a single run and costs a few bytes; a gap
// on A (a skipped record, a transaction marker, compaction) or a replay after
// the mirror restarted starts a new run. The store is kept by the mirror in
// memory, per replica: a restarted mirror knows the pairs of what it copied
// since, which is what a group that keeps up needs (docs/pipeline.md).
//
// translate(C), C a group's committed offset on A (the next record it reads):
// the newest run that starts at or before C. If it holds C-1 (or starts at C)
// the position is exact; if C is past its end (the group is ahead of the
// mirror, or C falls in a gap) it is the end + 1. Either way every record at
// or after C on A is at or after the position on B, so nothing is lost; the
// duplicates a consumer reads on B are the records between the position and
// the true one: none within a run, at most the records the group read on A
// that the mirror had not yet copied when it was translated. No run starts at
// or before C (the group is behind everything this mirror has copied since it
// started): no translation, and the group is left alone on B.
//
// GroupOffsetSync: every interval, reads the committed offsets of the chosen
// groups on A, translates the partitions the mirror copies, and commits them
// on B, as MirrorMaker 2's sync.group.offsets does: only for a group with no
// active members on B, and never moving a partition backwards. Its clusters
// are an interface (GroupOffsetsClient), so the rules are tested on fakes with
// a fake clock; KafkaGroupOffsetsClient is the librdkafka one.
//
// Thread-safe: the store is written from the output's delivery thread and
// read from the sync thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::runtime {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

class OffsetSyncStore {
 public:
  // At most this many runs per partition are kept (the oldest go first).
  explicit OffsetSyncStore(size_t maxRunsPerPartition = 64) : maxRuns_(maxRunsPerPartition) {}

  // The record read at `sourceOffset` of `sourcePartition` (a source topic's
  // partition) was written at `targetOffset` of the same partition on B.
  // Called in write order per partition.
  void delivered(const TopicPartition& sourcePartition, int64_t sourceOffset, int64_t targetOffset,
                 std::chrono::system_clock::time_point sourceTime);

  // Where on B a group committed at `committed` on A resumes; nullopt when unknown.
  std::optional<int64_t> translate(const TopicPartition& sourcePartition, int64_t committed) const;

  // Per source partition: the next source offset after the last copied record, and that record's timestamp.
  struct Progress {
    int64_t nextSourceOffset = 0;
    std::chrono::system_clock::time_point lastSourceTime{};
  };
  std::map<TopicPartition, Progress> progress() const;

 private:
  struct Run {
    int64_t source;  // first source offset of the run
    int64_t target;  // where it was written
    int64_t length;
  };
  struct Partition {
    std::deque<Run> runs;  // in write order
    std::chrono::system_clock::time_point lastSourceTime{};
  };
  size_t maxRuns_;
  mutable std::mutex mu_;
  std::map<TopicPartition, Partition> partitions_;  // guarded by mu_
};

// One cluster's consumer groups, as the offset sync needs them.
class GroupOffsetsClient {
 public:
  virtual ~GroupOffsetsClient() = default;
  virtual Result<std::vector<std::string>> listGroups() = 0;
  // The group's committed offsets (partitions with none are absent).
  virtual Result<std::map<TopicPartition, int64_t>> committed(const std::string& group) = 0;
  // True when the group has members (consumers running against this cluster).
  virtual Result<bool> active(const std::string& group) = 0;
  virtual Status commit(const std::string& group, const std::map<TopicPartition, int64_t>& offsets) = 0;
};

struct GroupOffsetSyncOptions {
  std::vector<std::string> groups;  // names, or "^regex" (ECMAScript, whole name)
  std::string prefix;               // the mirror's rename prefix ("" for identity)
  std::string ownGroup;             // the mirror's own consumer group on A, never synced
  std::chrono::seconds interval{10};
};

class GroupOffsetSync {
 public:
  GroupOffsetSync(GroupOffsetSyncOptions options, const OffsetSyncStore& store, GroupOffsetsClient& source,
                  GroupOffsetsClient& target, const Clock& clock);

  // What one pass did (for logs and tests).
  struct Pass {
    std::vector<std::string> committedGroups;  // groups given new positions on B
    std::vector<std::string> activeGroups;     // left alone: active on B
    int partitionsCommitted = 0;
    std::vector<std::string> errors;  // one per group or call that failed; the rest went on
  };
  // Runs a pass when the interval has passed since the last one (the first at once).
  std::optional<Pass> runIfDue();
  Pass runOnce();

 private:
  bool wanted(const std::string& group) const;
  Result<std::vector<std::string>> chosenGroups();
  // False when a cluster did not answer at all (kDeadlineExceeded): the pass stops.
  bool syncGroup(const std::string& group, Pass& pass);
  // The translated positions that move `group` forward on B.
  std::map<TopicPartition, int64_t> forwardPositions(const std::map<TopicPartition, int64_t>& onSource,
                                                     const std::map<TopicPartition, int64_t>& onTarget) const;

  GroupOffsetSyncOptions options_;
  std::vector<std::regex> patterns_;
  bool listNeeded_ = false;  // some group is a regex: list A's groups
  const OffsetSyncStore& store_;
  GroupOffsetsClient& source_;
  GroupOffsetsClient& target_;
  const Clock& clock_;
  std::optional<Clock::TimePoint> last_;
};

}  // namespace sluice::runtime
