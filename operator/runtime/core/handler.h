// Handler: turns one Event into output Records. Implemented by the embedded
// Python host and by the built-in operator pipeline; called by the delivery
// loop, which owns retries, timeouts and dead-lettering.
//
// Implementations document their threading; the delivery loop never calls one
// Handler instance from two threads at once unless it says it is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

// Whether the replica sheds load under memory pressure, asked before each
// event: the delivery loop's flag, or else `pressure`, a sample of the memory
// taken then and there (which raises the flag when over the threshold), so
// a handler that allocates fast cannot outrun a watchdog thread starved of
// CPU: no event starts once the threshold is passed.
struct ShedCheck {
  const std::atomic<bool>* flag = nullptr;
  std::function<bool()> pressure = nullptr;
  bool operator()() const { return (flag != nullptr && flag->load()) || (pressure && pressure()); }
};

struct InvocationContext {
  std::string requestId;
  std::string functionName;
  std::string triggerName;
  int attempt = 1;  // 1 for the first try
  std::chrono::steady_clock::time_point deadline;
  // The clock `deadline` is on (the delivery loop's): handleEach() times each event by it.
  const Clock* clock = &realClock();
  // Set by the delivery loop for handleEach(): once it answers true, the
  // events not started yet are not run (kUnavailable) and are redelivered
  // later: the replica is shedding load under memory pressure. Outlives the call.
  const ShedCheck* shedding = nullptr;
};

// The result handleEach() gives the events it did not run because of `shedding`.
Status shedStatus();
bool isShed(const Status& status);

// One event's result within handleEach().
struct EachResult {
  Result<std::vector<Record>> outputs = std::vector<Record>{};
  double seconds = 0;  // how long the handler ran for this event
};

class Handler {
 public:
  virtual ~Handler() = default;

  // OK with the outputs (possibly none), or an error: kInvalidArgument for
  // input the handler can never process (goes to dead letter at once),
  // kDeadlineExceeded for a timeout, anything else is retried.
  virtual Result<std::vector<Record>> handle(const Event& event, const InvocationContext& context) = 0;

  // True when handleEach() is worth calling: the handler pays a fixed cost
  // per call (a thread hand-off into the interpreter) that a batch shares.
  virtual bool handlesEach() const { return false; }

  // The first attempt for each event of a batch, in order, as if handle()
  // were called once per event with `context` (requestId = the event's id)
  // and a deadline of `timeout` from when that event's call starts; an
  // overrun is kDeadlineExceeded. Returns one result per event.
  virtual std::vector<EachResult> handleEach(const std::vector<Event>& events, const InvocationContext& context,
                                             std::chrono::milliseconds timeout);

  // The whole batch in ONE handler call (a trigger's batchSize > 1): the
  // handler receives the events as one list and returns the outputs of all
  // of them. The default calls handle() per event and concatenates.
  virtual Result<std::vector<Record>> handleBatch(const std::vector<Event>& events, const InvocationContext& context);
};

}  // namespace sluice::runtime
