#include "runtime/core/handler.h"

namespace sluice::runtime {

Status shedStatus() {
  return unavailable("not run: the replica is shedding load (memory pressure); redelivered later");
}

bool isShed(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.message() == shedStatus().message();
}

std::vector<EachResult> Handler::handleEach(const std::vector<Event>& events, const InvocationContext& context,
                                            std::chrono::milliseconds timeout) {
  std::vector<EachResult> results(events.size());
  InvocationContext each = context;
  for (size_t i = 0; i < events.size(); ++i) {
    if (context.shedding != nullptr && (*context.shedding)()) {
      for (size_t rest = i; rest < events.size(); ++rest) results[rest].outputs = shedStatus();
      break;
    }
    each.requestId = events[i].id;
    const Clock::TimePoint started = context.clock->now();
    each.deadline = started + timeout;
    results[i].outputs = handle(events[i], each);
    const Clock::TimePoint finished = context.clock->now();
    results[i].seconds = std::chrono::duration<double>(finished - started).count();
    if (results[i].outputs.isOk() && finished > each.deadline) {
      results[i].outputs = Status(StatusCode::kDeadlineExceeded,
                                  "handler overran its timeout of " + std::to_string(timeout.count()) + " ms");
    }
  }
  return results;
}

Result<std::vector<Record>> Handler::handleBatch(const std::vector<Event>& events, const InvocationContext& context) {
  std::vector<Record> all;
  InvocationContext each = context;
  for (const Event& event : events) {
    each.requestId = event.id;
    auto outputs = handle(event, each);
    if (!outputs.isOk()) return outputs.status().withContext("event " + event.id);
    for (Record& record : *outputs) all.push_back(std::move(record));
  }
  return all;
}

}  // namespace sluice::runtime
