// Log cleansing (seed scenario 1) as the runtime binary's integration tests
// drive it against a claiming object store, whichever it is (S3 on MinIO,
// WebHDFS on HDFS): the store is the trigger's objectStore block, given by the
// test. The fixture makes a Kafka topic and a built-in pipeline (gunzip, mask
// card numbers, parse key=value, drop DEBUG) that cleans every object into it;
// the helpers write the gzip log files and check what reached the topic.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kafka_test_util.h"
#include "request_gate.h"
#include "runtime_process.h"

namespace sluice::testing {

// Lines of log file `file`: "... level=<L> id=f<file>-l<line> card=4111222233334444 ...";
// every 10th line is DEBUG (to be dropped), every card number is to be masked.
std::string logFile(int file, int lines);

// How many lines of `files` log files of `lines` lines the pipeline keeps.
int keptLines(int files, int lines);

struct LogCleansingFixture {
  std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  std::string topic;
  std::string dir;  // the config and the replicas' logs
  std::string configPath;
  nlohmann::json config;  // what configPath holds

  // `name`: the Function's, and the prefix of the topic and temp dir names;
  // `objectStore`: the trigger's store (its pollInterval, claimTtl, afterProcessing...).
  LogCleansingFixture(const std::string& name, const nlohmann::json& objectStore);
  ~LogCleansingFixture();
  LogCleansingFixture(const LogCleansingFixture&) = delete;
  LogCleansingFixture& operator=(const LogCleansingFixture&) = delete;

  // Writes the configuration of a replica that stops half-way through every
  // file: it routes each file's middle line to an HTTP output at `gateUrl` (the
  // rest to Kafka, as configPath does) and waits there for the answer. Returns its path.
  std::string writeGatedConfig(const std::string& gateUrl, int files, int lines) const;

  // Consumes the records of the kept lines of `files` x `lines` (stopping 3 s
  // after the last, or at `timeout`) as line id -> times seen, checking that
  // each is cleaned (card masked, no DEBUG, message intact).
  std::map<std::string, int> cleanedIds(int files, int lines, std::chrono::seconds timeout) const;
};

// Records in all, duplicates included.
size_t totalRecords(const std::map<std::string, int>& ids);

// Exactly once: every kept line of `files` x `lines` seen once, no DEBUG line.
void expectEveryKeptLineOnce(const std::map<std::string, int>& ids, int files, int lines);

// At least once (after a replica died mid-stream): every kept line seen, no
// other id; prints "[figure] <figure>: N records for M lines, duplicate rate R%".
void expectEveryKeptLineAtLeastOnce(const std::map<std::string, int>& ids, int files, int lines,
                                    const std::string& figure);

// Arranges a SIGKILL mid-stream by construction: replica `one` runs alone on
// writeGatedConfig() until the gate holds one of its files half-way (that file
// and any others it claimed are taken and not finished, their claims held),
// then `two` starts on the plain config and is ready, then `one` is killed and
// the gate opens. ASSERTs each step (call it through ASSERT_NO_FATAL_FAILURE);
// prints "[figure] <figure>: files in flight at the killed replica ... N".
void killOneHalfWayThroughAFile(const LogCleansingFixture& f, int files, int lines, RuntimeProcess& one,
                                RuntimeProcess& two, const std::string& figure);

// Two replicas of the runtime binary on the fixture's config.
struct ReplicaPair {
  RuntimeProcess one;
  RuntimeProcess two;
  explicit ReplicaPair(const LogCleansingFixture& f);
  // Both answer /readyz within 60 s; else their logs.
  ::testing::AssertionResult waitReady();
  // SIGTERM to both; each drains and exits 0 within 60 s.
  void terminate();
  // Events (objects, files) the two processed for trigger "uploads"; prints
  // each one's as "[figure] <figure>, replica on port P: <what> processed N".
  double processed(const std::string& figure, const std::string& what);
};

}  // namespace sluice::testing
