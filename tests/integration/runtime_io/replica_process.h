// A test replica: KafkaSource -> test handler -> KafkaSink (+ dead-letter
// KafkaSink), the same runtime classes sluice-runtime wires up. The test
// binary runs it in-process, or as a child process (`<test-binary> --replica
// ...`) that tests SIGKILL or SIGTERM; SIGTERM drains gracefully and exits 0.
#pragma once

#include <sys/types.h>
#include <memory>
#include <string>

#include "common/clock.h"
#include "runtime/delivery/replica.h"
#include "runtime/delivery/runtime_metrics.h"

namespace sluice::testing {

struct TestReplicaConfig {
  std::string bootstrap;
  std::string inTopic;
  std::string outTopic;
  std::string deadLetterTopic;
  std::string group;
  std::string failPrefix = "fail-";  // events whose payload starts with this always fail
  int handlerDelayMicros = 0;
};

// Builds a Replica for `config` (not started).
std::unique_ptr<runtime::Replica> makeTestReplica(const TestReplicaConfig& config, runtime::RuntimeMetrics& metrics);

// Starts `<this binary> --replica ...` and returns its pid.
pid_t spawnReplica(const TestReplicaConfig& config);

// Entry point of the child mode; returns the process exit code.
int runReplicaProcess(int argc, char** argv);

}  // namespace sluice::testing
