#include "runtime/sinks/mirror_offsets.h"

#include <algorithm>

namespace sluice::runtime {

void OffsetSyncStore::delivered(const TopicPartition& sourcePartition, int64_t sourceOffset, int64_t targetOffset,
                                std::chrono::system_clock::time_point sourceTime) {
  std::lock_guard lock(mu_);
  Partition& partition = partitions_[sourcePartition];
  partition.lastSourceTime = sourceTime;
  if (!partition.runs.empty()) {
    Run& last = partition.runs.back();
    if (sourceOffset == last.source + last.length && targetOffset == last.target + last.length) {
      ++last.length;
      return;
    }
  }
  partition.runs.push_back({sourceOffset, targetOffset, 1});
  if (partition.runs.size() > maxRuns_) partition.runs.pop_front();
}

std::optional<int64_t> OffsetSyncStore::translate(const TopicPartition& sourcePartition, int64_t committed) const {
  std::lock_guard lock(mu_);
  auto found = partitions_.find(sourcePartition);
  if (found == partitions_.end()) return std::nullopt;
  const auto& runs = found->second.runs;
  // The newest run starting at or before `committed`: the mirror copied on from there in order.
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->source > committed) continue;
    int64_t within = std::min(committed - run->source, run->length);
    return run->target + within;
  }
  return std::nullopt;
}

std::map<TopicPartition, OffsetSyncStore::Progress> OffsetSyncStore::progress() const {
  std::lock_guard lock(mu_);
  std::map<TopicPartition, Progress> out;
  for (const auto& [key, partition] : partitions_) {
    if (partition.runs.empty()) continue;
    const Run& last = partition.runs.back();
    out[key] = {last.source + last.length, partition.lastSourceTime};
  }
  return out;
}

GroupOffsetSync::GroupOffsetSync(GroupOffsetSyncOptions options, const OffsetSyncStore& store,
                                 GroupOffsetsClient& source, GroupOffsetsClient& target, const Clock& clock)
    : options_(std::move(options)), store_(store), source_(source), target_(target), clock_(clock) {
  for (const auto& group : options_.groups) {
    if (group.empty() || group[0] != '^') continue;
    patterns_.emplace_back(group);  // checked by the config parser
    listNeeded_ = true;
  }
}

bool GroupOffsetSync::wanted(const std::string& group) const {
  if (group == options_.ownGroup) return false;
  if (std::find(options_.groups.begin(), options_.groups.end(), group) != options_.groups.end()) return true;
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::regex& pattern) { return std::regex_match(group, pattern); });
}

Result<std::vector<std::string>> GroupOffsetSync::chosenGroups() {
  std::vector<std::string> groups;
  if (listNeeded_) {
    auto listed = source_.listGroups();
    if (!listed.isOk()) return listed.status().withContext("listing the source cluster's consumer groups");
    groups = std::move(listed).value();
  }
  for (const auto& group : options_.groups) {
    if (!group.empty() && group[0] != '^') groups.push_back(group);
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  std::erase_if(groups, [&](const std::string& group) { return !wanted(group); });
  return groups;
}

std::optional<GroupOffsetSync::Pass> GroupOffsetSync::runIfDue() {
  Clock::TimePoint now = clock_.now();
  if (last_ && now - *last_ < options_.interval) return std::nullopt;
  last_ = now;
  return runOnce();
}

GroupOffsetSync::Pass GroupOffsetSync::runOnce() {
  Pass pass;
  auto groups = chosenGroups();
  if (!groups.isOk()) {
    pass.errors.push_back(groups.status().toString());
    return pass;
  }
  for (const auto& group : *groups) {
    // A cluster that did not answer at all would make every further group wait out the timeout too.
    if (!syncGroup(group, pass)) break;
  }
  return pass;
}

std::map<TopicPartition, int64_t> GroupOffsetSync::forwardPositions(
    const std::map<TopicPartition, int64_t>& onSource, const std::map<TopicPartition, int64_t>& onTarget) const {
  std::map<TopicPartition, int64_t> out;
  for (const auto& [partition, committed] : onSource) {
    auto position = store_.translate(partition, committed);
    if (!position) continue;
    TopicPartition target{options_.prefix + partition.topic, partition.partition};
    auto current = onTarget.find(target);
    // Never backwards: a consumer on B may already be past it (or a newer translation was committed).
    if (current != onTarget.end() && current->second >= *position) continue;
    out[target] = *position;
  }
  return out;
}

bool GroupOffsetSync::syncGroup(const std::string& group, Pass& pass) {
  auto fail = [&](const Status& status) {
    pass.errors.push_back("group \"" + group + "\": " + status.toString());
    return status.code() != StatusCode::kDeadlineExceeded;
  };
  auto onSource = source_.committed(group);
  if (!onSource.isOk()) return fail(onSource.status().withContext("source cluster"));
  if (onSource->empty()) return true;
  // Never touch a group running on B: its own commits are the truth there.
  auto active = target_.active(group);
  if (!active.isOk()) return fail(active.status().withContext("target cluster"));
  if (*active) {
    pass.activeGroups.push_back(group);
    return true;
  }
  auto onTarget = target_.committed(group);
  if (!onTarget.isOk()) return fail(onTarget.status().withContext("target cluster"));
  auto positions = forwardPositions(*onSource, *onTarget);
  if (positions.empty()) return true;
  if (Status committed = target_.commit(group, positions); !committed.isOk()) {
    return fail(committed.withContext("target cluster"));
  }
  pass.committedGroups.push_back(group);
  pass.partitionsCommitted += static_cast<int>(positions.size());
  return true;
}

}  // namespace sluice::runtime
