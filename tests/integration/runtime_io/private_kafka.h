// A private single-node Kafka cluster (KRaft, broker + controller in one
// process) from the test environment's own install (the directory above
// $KAFKA_TOPICS), for a test that must kill a broker: the shared clusters of
// tests/env serve the other tests running beside it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace sluice::testing {

class PrivateKafka {
 public:
  PrivateKafka() = default;
  ~PrivateKafka();  // SIGKILLs the broker if still running and removes its data
  PrivateKafka(const PrivateKafka&) = delete;
  PrivateKafka& operator=(const PrivateKafka&) = delete;

  // Formats a fresh data directory and starts the broker; true once it answers metadata within `timeout`.
  bool start(std::chrono::seconds timeout);
  // kill -9 of the broker process, and waits for it to be gone.
  void kill();
  const std::string& bootstrap() const { return bootstrap_; }
  std::string log() const;

 private:
  std::string dir_;
  std::string bootstrap_;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
