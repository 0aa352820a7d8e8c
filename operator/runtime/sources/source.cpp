#include "runtime/sources/source.h"

#include <atomic>
#include <memory>
#include <utility>

namespace sluice::runtime {

const char* outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAcked: return "acked";
    case Outcome::kRejected: return "rejected";
    case Outcome::kRequeue: return "requeue";
  }
  return "unknown";
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the interface takes ownership; this default copies
void EventDispatcher::dispatchBatch(std::vector<Event> events, std::string lane, std::string trigger,
                                    BatchCompletionCallback done) {
  struct Gather {
    std::vector<Event> events;
    std::vector<Outcome> outcomes;
    std::atomic<size_t> left{0};
    BatchCompletionCallback done;
  };
  auto gather = std::make_shared<Gather>();
  gather->outcomes.assign(events.size(), Outcome::kRequeue);
  gather->left = events.size();
  gather->done = std::move(done);
  gather->events = events;  // handed back at the end; the copies below go to dispatch()
  if (events.empty()) {
    if (gather->done) gather->done({}, {});
    return;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    dispatch(std::move(events[i]), lane, trigger, [gather, i](Outcome outcome) {
      gather->outcomes[i] = outcome;
      if (gather->left.fetch_sub(1, std::memory_order_acq_rel) == 1 && gather->done) {
        gather->done(std::move(gather->events), gather->outcomes);
      }
    });
  }
}

}  // namespace sluice::runtime
