// Source: where a replica's events come from (Kafka, RabbitMQ, a directory,
// S3, ...), and EventDispatcher: the delivery loop's intake that sources feed.
//
// A source owns its own threads and its client connections. It hands every
// event to the dispatcher together with a completion callback, and must not
// forget (commit, ack, delete) an event before that callback reports kAcked:
// that is what makes delivery at-least-once. Completion callbacks arrive on
// the delivery loop's or a sink's threads; a source queues them and acts on
// them from the thread that owns its connection.
//
// Lifecycle, called from one thread at a time: start() once (again after it
// failed: a warm replica retries a source its broker refused), then on drain
// stopFetching(), (the loop finishes in-flight work), then finish(). A source
// whose start() never succeeded is not drained.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/event.h"

namespace sluice::runtime {

// What became of one dispatched event.
enum class Outcome {
  kAcked,     // its outputs (or its dead-letter copy) are durably written: forget it
  kRejected,  // attempts exhausted and no dead-letter sink took it: use the source's own
              // dead-letter path (AMQP nack without requeue) or log and skip it
  kRequeue,   // could not be finished (e.g. the dead-letter sink is down): deliver it again later
};

const char* outcomeName(Outcome outcome);

using CompletionCallback = std::function<void(Outcome)>;

// What became of each event of a batch: outcomes[i] is events[i]'s. The
// events are handed back (moved, not copied) so a source can redeliver the
// ones it must.
using BatchCompletionCallback = std::function<void(std::vector<Event> events, const std::vector<Outcome>& outcomes)>;

class EventDispatcher {
 public:
  virtual ~EventDispatcher() = default;

  // Waits up to `timeout` for room under the in-flight limit. Sources call it
  // before fetching more so a slow handler slows fetching (backpressure).
  virtual bool waitForCapacity(std::chrono::milliseconds timeout) = 0;

  // OK while the dispatcher takes new work; otherwise why not (an output
  // cannot be written: see Sink::health). Sources then fetch nothing new but
  // keep their place (a Kafka source pauses its partitions and stays in its
  // group) and keep completing what is in flight, until it is OK again.
  // Cheap; polled.
  virtual Status intakeStatus() { return Status::ok(); }

  // Takes one event. Events with the same non-empty `lane` (e.g. a Kafka
  // partition) are handled one after another in dispatch order; events with
  // different or empty lanes run in parallel. Never blocks. `done` is called
  // exactly once, from any thread.
  virtual void dispatch(Event event, std::string lane, std::string trigger, CompletionCallback done) = 0;

  // Takes several events of one lane at once, in order (a Kafka partition's
  // records of one fetch): one hand-off and one completion for all of them.
  // `done` is called exactly once, when every event has its outcome. Events
  // of a batch may share an output write, so they complete together. The
  // default dispatches the events one by one and gathers their outcomes.
  virtual void dispatchBatch(std::vector<Event> events, std::string lane, std::string trigger,
                             BatchCompletionCallback done);
};

class Source {
 public:
  virtual ~Source() = default;

  // The trigger name, used as the `trigger` label on metrics.
  virtual const std::string& name() const = 0;

  // Connects and starts fetching on the source's own thread(s).
  virtual Status start(EventDispatcher& dispatcher) = 0;

  // Drain, step 1: fetch nothing new. Completions are still processed.
  virtual void stopFetching() = 0;

  // Drain, last step: acknowledges/commits what is done, then closes
  // (leaves the consumer group, closes channels). Events still unfinished are
  // left for redelivery. Returns by `deadline`.
  virtual Status finish(Clock::TimePoint deadline) = 0;
};

}  // namespace sluice::runtime
