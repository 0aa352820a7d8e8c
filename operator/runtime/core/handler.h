// Handler: turns one Event into output Records. Implemented by the embedded
// Python host and by the built-in operator pipeline; called by the delivery
// loop, which owns retries, timeouts and dead-lettering.
//
// Implementations document their threading; the delivery loop never calls one
// Handler instance from two threads at once unless it says it is thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

struct InvocationContext {
  std::string requestId;
  std::string functionName;
  std::string triggerName;
  int attempt = 1;  // 1 for the first try
  std::chrono::steady_clock::time_point deadline;
};

class Handler {
 public:
  virtual ~Handler() = default;

  // OK with the outputs (possibly none), or an error: kInvalidArgument for
  // input the handler can never process (goes to dead letter at once),
  // kDeadlineExceeded for a timeout, anything else is retried.
  virtual Result<std::vector<Record>> handle(const Event& event, const InvocationContext& context) = 0;
};

}  // namespace sluice::runtime
