// Sink: where output Records go (Kafka, RabbitMQ, S3, a directory, HTTP).
//
// write() reports success only once the destination durably holds the record:
// a Kafka delivery report under acks=all with idempotence, a RabbitMQ
// publisher confirm, an S3 PUT 200, a file fsync'd and renamed into place.
// Implementations are thread-safe: write() may be called from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

using WriteCallback = std::function<void(Status)>;

// Receives the outcome of each record of a writeBatch() call.
class WriteListener {
 public:
  virtual ~WriteListener() = default;
  // Called exactly once per written index, on any thread (possibly inline).
  virtual void written(uint32_t index, const Status& status) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;

  // Starts writing `record`; `done` is called exactly once, on any thread
  // (possibly inline), with OK once the record is durable or with the error.
  // Records written from one thread to one sink keep their order at the
  // destination unless a write fails.
  virtual void write(Record record, WriteCallback done) = 0;

  // Starts writing records[i] for every i in `indexes`, in that order;
  // `listener` hears about each. One call per batch saves the per-record
  // callback allocations; `records` must stay untouched until every index
  // has been reported. The default calls write() per record.
  virtual void writeBatch(const std::vector<Record>& records, const std::vector<uint32_t>& indexes,
                          std::shared_ptr<WriteListener> listener);

  // Waits until every started write has called back, or until `deadline`.
  virtual Status flush(Clock::TimePoint deadline) = 0;

  // OK while the sink can write; otherwise why it cannot, naming the
  // destination and the cause: a condition that retrying single records does
  // not fix (a wrong password, a topic the credentials may not write, an
  // untrusted certificate, a missing topic). While an output is unhealthy the
  // replica reports not ready, sources fetch nothing new, and writes that
  // fail wait for the sink to recover instead of using up their attempts.
  // Sinks that cannot tell stay OK (the default). Thread-safe and cheap: it is
  // polled.
  virtual Status health() const { return Status::ok(); }

  // Whether it reads Record::originId. Building one is an allocation per
  // record; the delivery loop leaves it empty when no output reads it.
  virtual bool usesOriginIds() const { return false; }
};

}  // namespace sluice::runtime
