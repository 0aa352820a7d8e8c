// FakeSink: an in-memory Sink for delivery tests.
//
// Keeps every acknowledged record; can fail chosen writes and can hold
// callbacks back (as a slow broker would) until the test releases them, and
// can report itself unhealthy (as a sink with a wrong password would).
// Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/sinks/sink.h"

namespace sluice::testing {

class FakeSink final : public runtime::Sink {
 public:
  // Return non-OK to fail that write.
  using FailRule = std::function<Status(const runtime::Record&, int writeNumber)>;

  // Reads origin ids as a RabbitMQ output does, unless told otherwise.
  explicit FakeSink(bool usesOriginIds = true) : usesOriginIds_(usesOriginIds) {}
  bool usesOriginIds() const override { return usesOriginIds_; }

  void setFailRule(FailRule rule) {
    std::lock_guard lock(mu_);
    failRule_ = std::move(rule);
  }
  void holdCallbacks(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
  }

  void write(runtime::Record record, runtime::WriteCallback done) override {
    Status status;
    {
      std::lock_guard lock(mu_);
      ++writes_;
      if (failRule_) status = failRule_(record, writes_);
      if (hold_) {
        held_.push_back({std::move(record), std::move(done), status});
        return;
      }
      if (status.isOk()) acknowledged_.push_back(std::move(record));
    }
    done(status);
  }

  Status flush(Clock::TimePoint) override { return Status::ok(); }

  void setHealth(Status health) {
    std::lock_guard lock(mu_);
    health_ = std::move(health);
  }
  Status health() const override {
    std::lock_guard lock(mu_);
    return health_;
  }

  // Completes every held write; returns how many.
  size_t releaseAll() {
    std::vector<Held> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
      for (auto& h : held) {
        if (h.status.isOk()) acknowledged_.push_back(h.record);
      }
    }
    for (auto& h : held) h.done(h.status);
    return held.size();
  }

  std::vector<runtime::Record> acknowledged() const {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  int writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  size_t heldCount() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }

 private:
  struct Held {
    runtime::Record record;
    runtime::WriteCallback done;
    Status status;
  };
  const bool usesOriginIds_;
  mutable std::mutex mu_;
  FailRule failRule_;
  bool hold_ = false;
  Status health_;
  int writes_ = 0;
  std::vector<Held> held_;
  std::vector<runtime::Record> acknowledged_;
};

}  // namespace sluice::testing
