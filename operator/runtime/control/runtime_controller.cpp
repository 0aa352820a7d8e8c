#include "runtime/control/runtime_controller.h"

#include <algorithm>
#include <future>
#include <variant>

#include "common/logging.h"
#include "runtime/config/config_parser.h"
#include "runtime/control/wiring.h"

namespace sluice::runtime {

namespace {
// Bounds a cron tick's handler attempts, backoff and output writes (the operator gives up sooner).
constexpr std::chrono::seconds kTickSettleTimeout{600};
// How long a cron tick waits for room under the in-flight limits before it is refused for now.
constexpr std::chrono::seconds kTickCapacityWait{5};
}  // namespace

RuntimeController::RuntimeController(HandlerFactory handlerFactory, RuntimeMetrics& metrics, Clock& clock,
                                     RuntimeControllerOptions options)
    : handlerFactory_(std::move(handlerFactory)), metrics_(metrics), clock_(clock), options_(std::move(options)) {
  if (!options_.sourceFactory) options_.sourceFactory = buildSource;
}

RuntimeController::~RuntimeController() { (void)drain(std::chrono::seconds(0)); }

std::string RuntimeController::notReadyReason() {
  std::shared_ptr<Replica> replica;
  {
    std::lock_guard lock(mu_);
    if (draining_ || drainRequested_) return "draining";
    if (specializing_) return "specializing";
    if (!sourcesRunning_) {
      return "starting trigger sources" + (sourcesError_.empty() ? std::string() : ": " + sourcesError_);
    }
    replica = replica_;
  }
  if (!replica) return "";
  Status health = replica->health();
  return health.isOk() ? "" : health.toString();
}

Status RuntimeController::specialize(const std::string& body) {
  Clock::TimePoint started = clock_.now();
  auto parsed = config::parseFunctionConfig(body);
  if (!parsed.isOk()) return parsed.status().withContext("function configuration");
  Status status = specialize(*parsed, started, SourceStart::kAfterAnswer);
  if (status.isOk()) {
    // Include parsing in the figure: it is part of what a warm pod pays.
    double seconds = std::chrono::duration<double>(clock_.now() - started).count();
    std::lock_guard lock(mu_);
    lastSpecializationSeconds_ = seconds;
  }
  return status;
}

Status RuntimeController::specialize(const config::FunctionConfig& function) {
  return specialize(function, clock_.now(), SourceStart::kBeforeAnswer);
}

Result<std::shared_ptr<Replica>> RuntimeController::buildReplica(const config::FunctionConfig& function,
                                                                 SpecializeTrace& trace) {
  auto handler = handlerFactory_(function);
  if (!handler.isOk()) return handler.status().withContext("loading the handler");
  trace.handlerLoaded = clock_.now();
  Replica::Outputs sinks;
  for (const auto& output : function.outputs) {
    auto sink = buildSink(output, &function, &metrics_);
    if (!sink.isOk()) return sink.status();
    sinks.emplace_back(output.name, std::move(sink).value());
  }
  std::unique_ptr<Sink> deadLetter;
  if (function.deadLetter) {
    auto sink = buildSink(*function.deadLetter);
    if (!sink.isOk()) return sink.status().withContext("deadLetter");
    deadLetter = std::move(sink).value();
  }
  std::vector<std::pair<std::string, std::unique_ptr<Sink>>> triggerDeadLetters;
  for (const auto& trigger : function.triggers) {
    auto sink = buildTriggerDeadLetter(trigger);
    if (!sink.isOk()) return sink.status();
    if (*sink) triggerDeadLetters.emplace_back(trigger.name, std::move(sink).value());
  }
  trace.outputsBuilt = clock_.now();
  std::vector<std::unique_ptr<Source>> sources;
  for (const auto& trigger : function.triggers) {
    auto source = options_.sourceFactory(trigger, function, metrics_, clock_);
    if (!source.isOk()) return source.status();
    if (*source) sources.push_back(std::move(source).value());
  }
  auto replica = std::make_shared<Replica>(deliveryOptionsFor(function), std::move(handler).value(), std::move(sinks),
                                           std::move(deadLetter), std::move(sources), metrics_, clock_);
  for (auto& [trigger, sink] : triggerDeadLetters) replica->addTriggerDeadLetter(trigger, std::move(sink));
  return replica;
}

bool RuntimeController::install(const std::shared_ptr<Replica>& replica, const config::FunctionConfig& function,
                                double seconds, bool sourcesLater, Clock::TimePoint received) {
  std::lock_guard lock(mu_);
  specializing_ = false;
  // A drain came while the replica was built: it found nothing to drain, so this is the last word.
  if (draining_ || drainRequested_) return false;
  replica_ = replica;
  functionName_ = function.name;
  pushedTriggers_.clear();
  for (const auto& trigger : function.triggers) {
    if (std::holds_alternative<config::HttpSourceConfig>(trigger.source)) pushedTriggers_[trigger.name] = false;
    if (std::holds_alternative<config::CronSourceConfig>(trigger.source)) pushedTriggers_[trigger.name] = true;
  }
  lastSpecializationSeconds_ = seconds;
  if (sourcesLater) {
    sourcesRunning_ = false;
    sourceStarter_ =
        std::jthread([this, replica, received](std::stop_token stop) { startSources(replica, received, stop); });
  }
  return true;
}

Status RuntimeController::specialize(const config::FunctionConfig& function, Clock::TimePoint received,
                                     SourceStart sourceStart) {
  using Ms = std::chrono::duration<double, std::milli>;
  const Clock::TimePoint started = clock_.now();
  {
    std::lock_guard lock(mu_);
    if (draining_ || drainRequested_) return Status(StatusCode::kFailedPrecondition, "the replica is draining");
    if (replica_ || specializing_) {
      return Status(StatusCode::kFailedPrecondition,
                    "already specialized as function \"" + (functionName_.empty() ? "?" : functionName_) + "\"");
    }
    specializing_ = true;
  }
  auto fail = [&](const Status& status) {
    std::lock_guard lock(mu_);
    specializing_ = false;
    return status;
  };
  SpecializeTrace trace;
  trace.received = received;
  trace.started = started;
  Result<std::shared_ptr<Replica>> built = buildReplica(function, trace);
  if (!built.isOk()) return fail(built.status());
  std::shared_ptr<Replica> replica = std::move(built).value();
  replica->startDelivery();
  const bool sourcesLater = sourceStart == SourceStart::kAfterAnswer && replica->sourcesPending() > 0;
  if (!sourcesLater) {
    if (Status status = replica->startSources(); !status.isOk()) {
      (void)replica->drain(std::chrono::seconds(0));
      return fail(status);
    }
  }
  trace.answering = clock_.now();
  double seconds = std::chrono::duration<double>(trace.answering - started).count();
  if (!sourcesLater) metrics_.specializationSeconds(seconds);
  const bool installed = install(replica, function, seconds, sourcesLater, received);
  loadedOrDrainingCv_.notify_all();  // calls waiting on a warm replica run now
  if (!installed) {
    (void)replica->drain(std::chrono::seconds(0));
    return Status(StatusCode::kFailedPrecondition, "the replica is draining");
  }
  // The trace bench/cold_start joins with the operator's: milliseconds since the request arrived.
  const auto arrived =
      clock_.wallNow() - std::chrono::duration_cast<std::chrono::system_clock::duration>(clock_.now() - received);
  SLUICE_LOG_INFO(
      "specialized as function {} in {:.1f} ms (trace: received at {:.3f} ms epoch, parsed +{:.1f}, handler loaded "
      "+{:.1f}, outputs built +{:.1f}, answering +{:.1f}{})",
      function.name, seconds * 1000, Ms(arrived.time_since_epoch()).count(), Ms(started - received).count(),
      Ms(trace.handlerLoaded - received).count(), Ms(trace.outputsBuilt - received).count(),
      Ms(trace.answering - received).count(), sourcesLater ? "; trigger sources starting" : "");
  return Status::ok();
}

void RuntimeController::startSources(const std::shared_ptr<Replica>& replica, Clock::TimePoint received,
                                     std::stop_token stop) {
  using Ms = std::chrono::duration<double, std::milli>;
  Clock::Duration backoff = options_.sourceRetryInitial;
  for (;;) {
    Status status = replica->startSources();
    if (status.isOk()) break;
    SLUICE_LOG_WARN("{}; retrying in {:.0f} ms (not ready until it runs)", status.toString(), Ms(backoff).count());
    {
      std::lock_guard lock(mu_);
      sourcesError_ = status.toString();
    }
    if (!clock_.sleepFor(backoff, stop)) return;
    backoff = std::min(backoff * 2, options_.sourceRetryMax);
  }
  const Clock::Duration took = clock_.now() - received;
  metrics_.specializationSeconds(std::chrono::duration<double>(took).count());
  {
    std::lock_guard lock(mu_);
    sourcesRunning_ = true;
    sourcesError_.clear();
  }
  SLUICE_LOG_INFO("trigger sources running {:.1f} ms after /specialize arrived", Ms(took).count());
}

void RuntimeController::requestDrain() {
  {
    std::lock_guard lock(mu_);
    drainRequested_ = true;
  }
  drainRequestedCv_.notify_all();
  loadedOrDrainingCv_.notify_all();
}

void RuntimeController::shedLoad() {
  std::shared_ptr<Replica> replica;
  {
    std::lock_guard lock(mu_);
    replica = replica_;
  }
  if (replica) replica->loop().shed();
  requestDrain();
}

void RuntimeController::waitForDrainRequest() {
  std::unique_lock lock(mu_);
  drainRequestedCv_.wait(lock, [&] { return drainRequested_; });
}

Status RuntimeController::drain(Clock::Duration grace) {
  std::shared_ptr<Replica> replica;
  std::jthread starter;
  {
    std::lock_guard lock(mu_);
    if (draining_) return Status::ok();
    draining_ = true;
    replica = replica_;
    starter = std::move(sourceStarter_);
  }
  loadedOrDrainingCv_.notify_all();
  if (starter.joinable()) {
    // Sources still starting: stop retrying, and wait for an attempt under way (a broker handshake),
    // so the drain below sees every source that runs.
    starter.request_stop();
    starter.join();
  }
  if (!replica) return Status::ok();
  SLUICE_LOG_INFO("draining: taking no new events, finishing those in flight");
  Status status = replica->drain(grace);
  if (status.isOk()) {
    SLUICE_LOG_INFO("drained: every in-flight event finished and was acknowledged");
  } else {
    SLUICE_LOG_WARN("drain: {}", status.toString());
  }
  return status;
}

double RuntimeController::lastSpecializationSeconds() {
  std::lock_guard lock(mu_);
  return lastSpecializationSeconds_;
}

std::string RuntimeController::refusesInvocations() {
  std::lock_guard lock(mu_);
  if (draining_ || drainRequested_) return "draining";
  // A warm replica takes the call: invoke() waits for its function (awaitFunction).
  return "";
}

Result<std::string> RuntimeController::pushedTriggerFor(const InvokeRequest& request) {
  const bool cron = request.eventType == "cron.tick";
  if (!cron && request.eventType != "http.request") {
    return invalidArgument("X-Sluice-Event-Type: \"" + request.eventType + "\" is neither http.request nor cron.tick");
  }
  const char* kind = cron ? "cron" : "http";
  if (request.trigger.empty()) {
    // No name: the function's only http trigger.
    std::string only;
    int count = 0;
    for (const auto& [name, isCron] : pushedTriggers_) {
      if (isCron != cron) continue;
      ++count;
      only = name;
    }
    if (count == 1) return only;
    return Status(StatusCode::kNotFound, "X-Sluice-Trigger is missing and the function has " + std::to_string(count) +
                                             " " + kind + " triggers");
  }
  auto it = pushedTriggers_.find(request.trigger);
  if (it == pushedTriggers_.end() || it->second != cron) {
    return Status(StatusCode::kNotFound,
                  "the function has no " + std::string(kind) + " trigger named \"" + request.trigger + "\"");
  }
  return request.trigger;
}

Result<std::vector<Record>> RuntimeController::invoke(const InvokeRequest& pushed) {
  std::shared_ptr<Replica> replica;
  uint64_t sequence = 0;
  InvokeRequest request = pushed;
  {
    std::unique_lock lock(mu_);
    // Only the operator's callers reach /invoke: on a warm replica that means it was just adopted
    // and its /specialize is on the way (or under way).
    loadedOrDrainingCv_.wait_for(lock, options_.awaitFunction,
                                 [&] { return replica_ || draining_ || drainRequested_; });
    if (draining_ || (!replica_ && drainRequested_)) return notHandled("draining");
    replica = replica_;
    if (!replica) return notHandled("no function is loaded yet (warm replica waiting for /specialize)");
    // Only the function's own pushed triggers: a forged name or a cron tick on an http trigger writes nothing.
    auto trigger = pushedTriggerFor(request);
    if (!trigger.isOk()) return trigger.status();
    request.trigger = *trigger;
    sequence = ++invocations_;
  }
  Event event;
  auto wall = clock_.wallNow();
  event.id = request.trigger + "-" +
             std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count()) +
             "-" + std::to_string(sequence);
  bool cron = request.eventType == "cron.tick";
  event.source = cron ? "cron" : "http";
  event.type = request.eventType;
  event.time = wall;
  event.subject = request.trigger;
  event.headers = request.headers;
  event.data = request.body;
  if (!cron) return replica->loop().invoke(event, request.trigger);

  // A cron tick is work like a queued message: it waits for room under the
  // in-flight limits like a fetch does (a tick may carry a payload), and is
  // refused for now (429: the operator fires it again) when none comes.
  if (!replica->loop().waitForCapacity(kTickCapacityWait)) {
    return Status(StatusCode::kResourceExhausted,
                  "the replica's in-flight budget is full (or it is shedding load); deliver the cron tick again");
  }
  // A cron tick is work like a queued message: retries, outputs, dead letter.
  // The operator's POST is answered once the tick is settled, so it knows
  // whether to deliver it again: acknowledged (outputs or dead letter written),
  // rejected (every attempt failed, no dead letter: firing again would repeat
  // a failing tick), or to be delivered again (a sink was down).
  auto settled = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> outcome = settled->get_future();
  replica->loop().dispatch(std::move(event), request.trigger, request.trigger,
                           [settled](Outcome o) { settled->set_value(o); });
  if (outcome.wait_for(kTickSettleTimeout) != std::future_status::ready) {
    return Status(StatusCode::kDeadlineExceeded,
                  "the cron tick was not settled within " + std::to_string(kTickSettleTimeout.count()) + " s");
  }
  switch (outcome.get()) {
    case Outcome::kAcked: return std::vector<Record>{};
    case Outcome::kRejected:
      return Status(StatusCode::kInternal, "the cron tick failed every attempt and no dead-letter output took it");
    case Outcome::kRequeue: break;
  }
  return unavailable("the cron tick could not be finished (an output is unavailable); deliver it again");
}

}  // namespace sluice::runtime
