// Sink: where output Records go (Kafka, RabbitMQ, S3, a directory, HTTP).
//
// write() reports success only once the destination durably holds the record:
// a Kafka delivery report under acks=all with idempotence, a RabbitMQ
// publisher confirm, an S3 PUT 200, a file fsync'd and renamed into place.
// Implementations are thread-safe: write() may be called from many threads.
#pragma once

#include <functional>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

using WriteCallback = std::function<void(Status)>;

class Sink {
 public:
  virtual ~Sink() = default;

  // Starts writing `record`; `done` is called exactly once, on any thread
  // (possibly inline), with OK once the record is durable or with the error.
  // Records written from one thread to one sink keep their order at the
  // destination unless a write fails.
  virtual void write(Record record, WriteCallback done) = 0;

  // Waits until every started write has called back, or until `deadline`.
  virtual Status flush(Clock::TimePoint deadline) = 0;
};

}  // namespace sluice::runtime
