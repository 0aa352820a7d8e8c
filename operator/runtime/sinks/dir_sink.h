// DirSink: writes each record as one file in a directory.
//
// A write creates a dot-file, writes and fsyncs it, renames it to its final
// name and fsyncs the directory, so readers (and a DirSource watching that
// directory) only ever see complete files, and a reported success survives a
// crash. Names are unique across replicas and restarts:
// <epoch-ms>-<host>-<pid>-<sequence><suffix>. write() is synchronous (the
// callback runs before it returns) and thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "runtime/sinks/sink.h"

namespace sluice::runtime {

struct DirSinkOptions {
  std::string directory;  // must exist
  std::string suffix;     // appended to every file name, e.g. ".json"
};

class DirSink final : public Sink {
 public:
  // Fails when the directory does not exist or is not writable.
  static Result<std::unique_ptr<DirSink>> create(DirSinkOptions options, Clock& clock);

  void write(Record record, WriteCallback done) override;
  Status flush(Clock::TimePoint) override { return Status::ok(); }

 private:
  DirSink(DirSinkOptions options, Clock& clock, std::string stem);
  Status writeFile(const std::string& name, const std::string& value);

  DirSinkOptions options_;
  Clock& clock_;
  std::string stem_;  // -<host>-<pid>-
  std::atomic<uint64_t> sequence_{0};
};

}  // namespace sluice::runtime
