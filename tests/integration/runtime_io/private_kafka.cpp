#include "private_kafka.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "child_process.h"
#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {

namespace {

// The Kafka install of tests/env: $KAFKA_TOPICS is <home>/bin/kafka-topics.
std::string kafkaHome() {
  return std::filesystem::path(requiredEnv("KAFKA_TOPICS")).parent_path().parent_path().string();
}

// A JVM command line: `flags` (heap, GC, logging) then Kafka's class path, `mainClass` and `args`.
std::vector<std::string> java(std::vector<std::string> flags, const std::string& mainClass,
                              const std::vector<std::string>& args) {
  std::vector<std::string> out = {"java", "-XX:+UseSerialGC"};
  out.insert(out.end(), flags.begin(), flags.end());
  out.insert(out.end(), {"-cp", kafkaHome() + "/lib/*", mainClass});
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

}  // namespace

bool PrivateKafka::start(std::chrono::seconds timeout) {
  dir_ = makeTempDir("private-kafka");
  int port = freeLoopbackPort();
  int controller = freeLoopbackPort();
  while (controller == port) controller = freeLoopbackPort();
  bootstrap_ = "127.0.0.1:" + std::to_string(port);
  // As tests/env/components/kafka.sh configures its clusters: one node, topics created by the tests.
  writeFile(
      dir_ + "/server.properties",
      "process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:" + std::to_string(controller) +
          "\nlisteners=PLAINTEXT://" + bootstrap_ + ",CONTROLLER://127.0.0.1:" + std::to_string(controller) +
          "\nadvertised.listeners=PLAINTEXT://" + bootstrap_ +
          "\ncontroller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
          "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\nlog.dirs=" +
          dir_ +
          "/data\nnum.partitions=1\ndefault.replication.factor=1\nmin.insync.replicas=1\n"
          "offsets.topic.replication.factor=1\noffsets.topic.num.partitions=4\n"
          "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
          "auto.create.topics.enable=false\ngroup.initial.rebalance.delay.ms=0\nnum.network.threads=2\n"
          "num.io.threads=4\n");
  const std::string logPath = dir_ + "/kafka.log";
  // A cluster id: 16 bytes in unpadded base64url, as StorageTool random-uuid prints (fixed: the cluster is private).
  const std::string home = kafkaHome();
  pid_t format = spawnChild(
      java({"-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dlog4j.configuration=file:" + home + "/log4j-tools.properties"},
           "kafka.tools.StorageTool", {"format", "-t", "c2x1aWNlLWRyaWxsLUEwMQ", "-c", dir_ + "/server.properties"}),
      {logPath, true, {}});
  int status = 0;
  waitpid(format, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  pid_ = spawnChild(java({"-Xmx384m", "-Xms128m", "-Djava.awt.headless=true",
                          "-Dlog4j.configuration=file:" + home + "/log4j.properties"},
                         "kafka.Kafka", {dir_ + "/server.properties"}),
                    {logPath, true, {}});
  return waitUntil(timeout, [&] {
    try {
      partitionCountOf(bootstrap_, "__sluice_probe");  // any metadata answer: the broker serves
      return true;
    } catch (const std::exception&) {
      return false;
    }
  });
}

void PrivateKafka::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string PrivateKafka::log() const { return dir_.empty() ? "" : readFile(dir_ + "/kafka.log"); }

PrivateKafka::~PrivateKafka() {
  kill();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

}  // namespace sluice::testing
