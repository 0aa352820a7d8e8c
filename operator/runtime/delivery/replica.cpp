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
  loop_->start();
  started_ = true;
  for (auto& source : sources_) {
    if (Status status = source->start(*loop_); !status.isOk()) {
      return status.withContext("starting trigger \"" + source->name() + "\"");
    }
  }
  return Status::ok();
}

Status Replica::drain(Clock::Duration grace) {
  if (drained_) return Status::ok();
  drained_ = true;
  Clock::TimePoint deadline = clock_.now() + grace;
  for (auto& source : sources_) source->stopFetching();
  bool idle = loop_->waitIdle(deadline);
  int unfinished = loop_->inFlight();
  for (auto& source : sources_) {
    if (Status status = source->finish(deadline); !status.isOk()) {
      SLUICE_LOG_WARN("drain: trigger {}: {}", source->name(), status.toString());
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
