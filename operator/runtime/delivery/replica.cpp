#include "runtime/delivery/replica.h"

#include <utility>

#include "common/logging.h"

namespace sluice::runtime {

namespace {

std::map<std::string, Sink*> rawSinks(const Replica::Outputs& outputs) {
  std::map<std::string, Sink*> raw;
  for (const auto& [name, sink] : outputs) raw[name] = sink.get();
  if (!outputs.empty()) raw[""] = outputs.front().second.get();
  return raw;
}

}  // namespace

Replica::Replica(DeliveryOptions options, std::shared_ptr<Handler> handler, Outputs outputs,
                 std::unique_ptr<Sink> deadLetter, std::vector<std::unique_ptr<Source>> sources,
                 RuntimeMetrics& metrics, Clock& clock)
    : handler_(std::move(handler)),
      outputs_(std::move(outputs)),
      deadLetter_(std::move(deadLetter)),
      sources_(std::move(sources)),
      clock_(clock),
      loop_(std::make_unique<DeliveryLoop>(std::move(options), *handler_, rawSinks(outputs_), deadLetter_.get(),
                                           metrics, clock)) {}

Replica::~Replica() {
  if (started_ && !drained_) (void)drain(std::chrono::seconds(0));
}

void Replica::addTriggerDeadLetter(const std::string& trigger, std::unique_ptr<Sink> sink) {
  loop_->setTriggerDeadLetter(trigger, sink.get());
  triggerDeadLetters_.emplace_back(trigger, std::move(sink));
}

Status Replica::health() const {
  if (Status intake = loop_->intakeStatus(); !intake.isOk()) return intake;
  if (deadLetter_) {
    if (Status health = deadLetter_->health(); !health.isOk()) return health.withContext("dead-letter output");
  }
  for (const auto& [trigger, sink] : triggerDeadLetters_) {
    if (Status health = sink->health(); !health.isOk()) {
      return health.withContext("trigger \"" + trigger + "\" dead-letter queue");
    }
  }
  return Status::ok();
}

Status Replica::start() {
  startDelivery();
  return startSources();
}

void Replica::startDelivery() {
  if (started_) return;
  loop_->start();
  started_ = true;
}

Status Replica::startSources() {
  for (size_t i = sourcesStarted_; i < sources_.size(); ++i) {
    Source& source = *sources_[i];
    if (Status status = source.start(*loop_); !status.isOk()) {
      return status.withContext("starting trigger \"" + source.name() + "\"");
    }
    sourcesStarted_ = i + 1;
  }
  return Status::ok();
}

size_t Replica::sourcesPending() const { return sources_.size() - sourcesStarted_; }

Status Replica::drain(Clock::Duration grace) {
  if (drained_) return Status::ok();
  drained_ = true;
  Clock::TimePoint deadline = clock_.now() + grace;
  // A source never started has nothing in flight and nothing to close.
  const size_t running = sourcesStarted_;
  for (size_t i = 0; i < running; ++i) sources_[i]->stopFetching();
  bool idle = loop_->waitIdle(deadline);
  int unfinished = loop_->inFlight();
  for (size_t i = 0; i < running; ++i) {
    if (Status status = sources_[i]->finish(deadline); !status.isOk()) {
      SLUICE_LOG_WARN("drain: trigger {}: {}", sources_[i]->name(), status.toString());
    }
  }
  loop_->stop();
  for (auto& [name, sink] : outputs_) (void)sink->flush(deadline);
  if (deadLetter_) (void)deadLetter_->flush(deadline);
  for (auto& [trigger, sink] : triggerDeadLetters_) (void)sink->flush(deadline);
  if (!idle) {
    return Status(StatusCode::kDeadlineExceeded, std::to_string(unfinished) +
                                                     " event(s) still in flight at the end of the grace period; "
                                                     "they were not acknowledged and will be redelivered");
  }
  return Status::ok();
}

}  // namespace sluice::runtime
