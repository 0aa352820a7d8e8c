// A test replica: KafkaSource -> test handler -> KafkaSink (+ dead-letter
// KafkaSink), the same runtime classes sluice-runtime wires up. The test
// binary runs it in-process, or as a child process (`<test-binary> --replica
// ...`) that tests SIGKILL or SIGTERM; SIGTERM drains gracefully and exits 0.
// A child started with a gate waits there once, with the next event it
// handles, after the test arms it with SIGUSR1 (armGate): that is how kill and
// drain tests stop a replica with an event in hand, at the moment they chose.
// Its consumer-group client.id is replicaClientId(pid).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/clock.h"
#include "runtime/delivery/replica.h"
#include "runtime/metrics/runtime_metrics.h"

namespace sluice::testing {

struct TestReplicaConfig {
  std::string bootstrap;
  std::string inTopic;
  std::string outTopic;
  std::string deadLetterTopic;
  std::string group;
  std::string failPrefix = "fail-";  // events whose payload starts with this always fail
  int handlerDelayMicros = 0;
  // A RequestGate on 127.0.0.1 (0: none) where the child's handler waits with
  // one event once armed. The handler is not thread-safe, so it is called one
  // event at a time: while that event waits, the replica completes nothing.
  int gatePort = 0;
};

// Builds a Replica for `config` (not started). `gateArmed` (with config.gatePort):
// while true, the next event handled clears it and waits at the gate.
std::unique_ptr<runtime::Replica> makeTestReplica(const TestReplicaConfig& config, runtime::RuntimeMetrics& metrics,
                                                  std::shared_ptr<std::atomic<bool>> gateArmed = nullptr);

// Starts `<this binary> --replica ...` and returns its pid.
pid_t spawnReplica(const TestReplicaConfig& config);

// Arms the gate of child `pid` (SIGUSR1); only after the child has started
// consuming (it blocks the signal first thing, before that it would die of it).
void armGate(pid_t pid);

// The Kafka client.id of child `pid` (of this process, for pid 0), as the group coordinator names its member.
std::string replicaClientId(pid_t pid);

// Entry point of the child mode; returns the process exit code.
int runReplicaProcess(int argc, char** argv);

}  // namespace sluice::testing
