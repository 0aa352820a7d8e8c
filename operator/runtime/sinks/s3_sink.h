// S3Sink: writes each record as one object under a prefix of an S3-compatible
// bucket. A write is reported only after the PUT answered 200, which S3 and
// MinIO give once the object is durable. Keys are unique across replicas and
// restarts: <prefix><epoch-ms>-<host>-<pid>-<sequence><suffix>. write() is
// synchronous (the callback runs before it returns) and thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "objectstore/s3_client.h"
#include "runtime/sinks/sink.h"

namespace sluice::runtime {

struct S3SinkOptions {
  std::string prefix;  // e.g. "out/"
  std::string suffix;  // appended to every key, e.g. ".json"
};

class S3Sink final : public Sink {
 public:
  S3Sink(S3SinkOptions options, std::shared_ptr<objectstore::S3Client> client, Clock& clock);

  void write(Record record, WriteCallback done) override;
  Status flush(Clock::TimePoint) override { return Status::ok(); }

 private:
  S3SinkOptions options_;
  std::shared_ptr<objectstore::S3Client> client_;
  Clock& clock_;
  std::string stem_;  // -<host>-<pid>-
  std::atomic<uint64_t> sequence_{0};
};

}  // namespace sluice::runtime
