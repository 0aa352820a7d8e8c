// Replica: one function replica's moving parts wired together — sources,
// the delivery loop, sinks and the dead-letter sink — with the graceful drain
// that scale-down relies on.
//
// drain(): sources stop fetching; in-flight events finish (within the grace
// period) and are acknowledged; sources commit/ack and close (leaving the
// consumer group); sinks flush. Anything unfinished at the deadline stays
// unacknowledged and is redelivered elsewhere, so a drain never loses data.
// start() (or startDelivery() then startSources()) and drain() are called
// from one thread at a time.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/core/handler.h"
#include "runtime/delivery/delivery_loop.h"
#include "runtime/metrics/runtime_metrics.h"
#include "runtime/sinks/sink.h"
#include "runtime/sources/source.h"

namespace sluice::runtime {

class Replica {
 public:
  // `outputs` are named sinks; the first is also the default output (Record::sink empty).
  using Outputs = std::vector<std::pair<std::string, std::unique_ptr<Sink>>>;
  Replica(DeliveryOptions options, std::shared_ptr<Handler> handler, Outputs outputs, std::unique_ptr<Sink> deadLetter,
          std::vector<std::unique_ptr<Source>> sources, RuntimeMetrics& metrics, Clock& clock);
  ~Replica();

  // A dead-letter sink for one trigger only (DeliveryLoop::setTriggerDeadLetter),
  // owned by the replica. Call before start().
  void addTriggerDeadLetter(const std::string& trigger, std::unique_ptr<Sink> sink);

  // startDelivery(), then startSources(): the cold start, where a source that
  // cannot start fails the whole replica.
  Status start();

  // The delivery loop only: from here on events can be handled (invoke()).
  void startDelivery();

  // Starts the sources not started yet, in order; stops at the first that
  // fails and returns why. Called again, it goes on from that source, so a
  // source a broker refused can be retried. A warm replica answers
  // /specialize before its sources connect and runs this after.
  Status startSources();

  // The sources still to start (0 once startSources() succeeded).
  size_t sourcesPending() const;

  // Graceful drain within `grace`. OK when every in-flight event finished.
  Status drain(Clock::Duration grace);

  // OK, or why the replica cannot do its work: the first unhealthy output
  // (its sources then fetch nothing new), else the first unhealthy
  // dead-letter output. Shown by /readyz. Thread-safe.
  Status health() const;

  DeliveryLoop& loop() { return *loop_; }

 private:
  std::shared_ptr<Handler> handler_;
  Outputs outputs_;
  std::unique_ptr<Sink> deadLetter_;
  std::vector<std::pair<std::string, std::unique_ptr<Sink>>> triggerDeadLetters_;  // by trigger
  std::vector<std::unique_ptr<Source>> sources_;
  std::atomic<size_t> sourcesStarted_{0};  // sources_[0, sourcesStarted_) run; only they are drained
  Clock& clock_;
  std::unique_ptr<DeliveryLoop> loop_;
  bool started_ = false;
  bool drained_ = false;
};

}  // namespace sluice::runtime
