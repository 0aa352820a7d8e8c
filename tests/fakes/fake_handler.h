// FakeHandler: a Handler whose behaviour is a lambda, recording every call.
//
// The default behaviour echoes the event's data as one record to the default
// output. Thread-safe (the lambda must be too if the test calls it from
// several threads).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "runtime/core/handler.h"

namespace sluice::testing {

class FakeHandler final : public runtime::Handler {
 public:
  using Behaviour =
      std::function<Result<std::vector<runtime::Record>>(const runtime::Event&, const runtime::InvocationContext&)>;

  struct Call {
    std::string eventId;
    int attempt;
    Clock::TimePoint deadline;
  };

  FakeHandler() : behaviour_(echo) {}
  explicit FakeHandler(Behaviour behaviour) : behaviour_(std::move(behaviour)) {}

  static Result<std::vector<runtime::Record>> echo(const runtime::Event& event, const runtime::InvocationContext&) {
    runtime::Record record;
    record.key = event.key;
    record.value = event.data;
    return std::vector<runtime::Record>{record};
  }

  Result<std::vector<runtime::Record>> handle(const runtime::Event& event,
                                              const runtime::InvocationContext& context) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back({event.id, context.attempt, context.deadline});
    }
    return behaviour_(event, context);
  }

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  Behaviour behaviour_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

}  // namespace sluice::testing
