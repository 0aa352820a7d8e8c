// Kafka crash marks: what a KafkaSource writes in the metadata string of its
// committed offsets so that the next owner of a partition can tell which
// record was being handled when a replica died, and how often that happened.
//
// Every commit carries "sluice/1 limit=L": the member dispatches no record at
// or past L before a commit carrying L was acknowledged, so when it dies
// without a clean leave every record it may have been handling lies in
// [committed offset, L). A clean leave (revoke, drain) writes L = one past the
// last record it dispatched. A commit made just before handling the record at
// the committed offset, one record at a time ("probation"), adds
// " inflight=K": that record is being handled and K process exits are charged
// to it so far. A record handled alone after an unattributed death is marked
// K=1: that death (it was among the records in flight) becomes its own once
// it dies alone, so a poison record causes exactly maxAttempts exits, and an
// innocent one, which never dies alone, is never charged.
//
// The next owner (probationAfter): with "inflight=K" the record at the
// committed offset killed the previous owner alone, its (K+1)th exit; it is handled
// alone, marked again, and the delivery loop dead-letters it once its exits
// reach the trigger's maxAttempts. Without "inflight" but with records in
// [committed, L), the previous owner died somewhere in there (or left them
// unfinished): each is handled alone behind its own mark. Steady state costs
// nothing per record: the limit rides on the periodic commits. Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::runtime {

struct CrashMark {
  int64_t limit = -1;  // no record at or past it was dispatched by the committing member
  int inflight = -1;   // >= 0: the record at the committed offset was being handled, after this many exits
};

std::string formatCrashMark(const CrashMark& mark);
// nullopt for metadata this runtime did not write (empty, another client's).
std::optional<CrashMark> parseCrashMark(const std::string& metadata);

// Which records of a newly assigned partition are handled one at a time behind a mark.
struct Probation {
  int64_t end = -1;      // records below this offset (and at or past the committed one)
  int64_t suspect = -1;  // the record that was being handled when the previous owner died; -1: unknown
  int suspectExits = 0;  // how many deliveries of `suspect` ended with the process exiting
  bool covers(int64_t offset) const { return offset < end; }
  // Exits so far of the record at `offset`: 0 unless it is the suspect.
  int exitsOf(int64_t offset) const { return offset == suspect ? suspectExits : 0; }
};

// From the group's committed offset (< 0: none) and its metadata.
Probation probationAfter(int64_t committedOffset, const std::string& metadata);

// How far past the fetched records a commit sets the limit: four commit
// intervals' worth of records at the recent rate (at least two batches, or
// 100 records, at most 20,000), so that steady-state dispatch does not wait
// for a commit, but no more than needed, since after a crash the records in
// the window are handled one at a time, each behind its own confirmed mark: a
// floor of 2,000 cost the next owner of a partition ~45 s at ~44 records/s
// on a loaded broker, and a kill in that time charged an innocent record.
int64_t dispatchWindow(size_t dispatchedLastInterval, int maxBatch);

}  // namespace sluice::runtime
