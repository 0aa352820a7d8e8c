#include "replica_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include "child_process.h"
#include "common/logging.h"
#include "runtime/sinks/kafka_sink.h"
#include "runtime/sources/kafka_source.h"
#include "runtime_process.h"

namespace sluice::testing {

namespace {

class EchoOrFailHandler final : public runtime::Handler {
 public:
  EchoOrFailHandler(std::string failPrefix, int delayMicros, int gatePort, std::shared_ptr<std::atomic<bool>> gateArmed)
      : failPrefix_(std::move(failPrefix)),
        delay_(delayMicros),
        gatePort_(gatePort),
        gateArmed_(std::move(gateArmed)) {}

  Result<std::vector<runtime::Record>> handle(const runtime::Event& event, const runtime::InvocationContext&) override {
    // httpPost gives up after 60 s, so a broken test cannot hang the replica.
    if (gateArmed_ && gateArmed_->exchange(false)) (void)httpPost(gatePort_, "/gate", event.id);
    if (delay_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_));
    if (event.data.starts_with(failPrefix_)) return internalError("always fails: " + event.data);
    runtime::Record record;
    record.key = event.key;
    record.value = event.data;
    record.headers = event.headers;
    record.headers.emplace_back("x-in", event.id);
    return std::vector<runtime::Record>{record};
  }

 private:
  std::string failPrefix_;
  int delay_;
  int gatePort_;
  std::shared_ptr<std::atomic<bool>> gateArmed_;
};

std::map<std::string, std::string> groupProperties() {
  // Short session so a SIGKILLed member's partitions move within seconds.
  return {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}, {"client.id", replicaClientId(0)}};
}

}  // namespace

std::string replicaClientId(pid_t pid) { return "test-replica-" + std::to_string(pid == 0 ? getpid() : pid); }

void armGate(pid_t pid) { ::kill(pid, SIGUSR1); }

std::unique_ptr<runtime::Replica> makeTestReplica(const TestReplicaConfig& config, runtime::RuntimeMetrics& metrics,
                                                  std::shared_ptr<std::atomic<bool>> gateArmed) {
  runtime::KafkaSourceOptions sourceOptions;
  sourceOptions.triggerName = "orders";
  sourceOptions.bootstrapServers = config.bootstrap;
  sourceOptions.topics = {config.inTopic};
  sourceOptions.consumerGroup = config.group;
  sourceOptions.initialOffset = "earliest";
  sourceOptions.properties = groupProperties();
  std::vector<std::unique_ptr<runtime::Source>> sources;
  sources.push_back(std::make_unique<runtime::KafkaSource>(sourceOptions, metrics, realClock()));

  auto out = runtime::KafkaSink::create({config.bootstrap, config.outTopic, {}});
  auto dead = runtime::KafkaSink::create({config.bootstrap, config.deadLetterTopic, {}});
  if (!out.isOk() || !dead.isOk()) {
    std::cerr << "sink: " << out.status().toString() << " " << dead.status().toString() << "\n";
    std::abort();
  }
  runtime::Replica::Outputs sinks;
  sinks.emplace_back("out", std::move(out).value());

  runtime::DeliveryOptions options;
  options.functionName = "echo";
  options.workers = 4;
  options.maxInFlight = 500;
  options.maxAttempts = 3;
  options.backoff.initial = std::chrono::milliseconds(10);
  options.backoff.maxDelay = std::chrono::milliseconds(100);
  auto handler = std::make_shared<EchoOrFailHandler>(config.failPrefix, config.handlerDelayMicros, config.gatePort,
                                                     config.gatePort > 0 ? std::move(gateArmed) : nullptr);
  return std::make_unique<runtime::Replica>(options, std::move(handler), std::move(sinks), std::move(dead).value(),
                                            std::move(sources), metrics, realClock());
}

pid_t spawnReplica(const TestReplicaConfig& config) {
  std::vector<std::string> args = {"/proc/self/exe",
                                   "--replica",
                                   config.bootstrap,
                                   config.inTopic,
                                   config.outTopic,
                                   config.deadLetterTopic,
                                   config.group,
                                   config.failPrefix,
                                   std::to_string(config.handlerDelayMicros),
                                   std::to_string(config.gatePort)};
  return spawnChild(args);
}

int runReplicaProcess(int argc, char** argv) {
  if (argc < 10) {
    std::cerr << "usage: --replica BOOTSTRAP IN OUT DLQ GROUP FAIL_PREFIX DELAY_US GATE_PORT\n";
    return 2;
  }
  TestReplicaConfig config{argv[2],           argv[3], argv[4], argv[5], argv[6], argv[7], std::atoi(argv[8]),
                           std::atoi(argv[9])};
  // SIGTERM and SIGUSR1 are taken by sigwait below, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  (void)setLogLevel("warn");
  runtime::RuntimeMetrics metrics;
  auto gateArmed = std::make_shared<std::atomic<bool>>(false);
  auto replica = makeTestReplica(config, metrics, gateArmed);
  if (Status status = replica->start(); !status.isOk()) {
    std::cerr << "start: " << status.toString() << "\n";
    return 1;
  }
  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGUSR1) gateArmed->store(true);
  Status drained = replica->drain(std::chrono::seconds(20));
  if (!drained.isOk()) {
    std::cerr << "drain: " << drained.toString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace sluice::testing

// This binary's main: the child replica mode, or the tests.
int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--replica") == 0) return sluice::testing::runReplicaProcess(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
