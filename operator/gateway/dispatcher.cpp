#include "gateway/dispatcher.h"

#include <algorithm>

namespace sluice::gateway {

namespace {

CallResult ended(CallEnd end, std::string detail = "", int attempts = 0) {
  CallResult result;
  result.end = end;
  result.detail = std::move(detail);
  result.attempts = attempts;
  return result;
}

std::chrono::milliseconds remaining(Clock::TimePoint deadline, Clock::TimePoint now) {
  return std::max(std::chrono::milliseconds(1), std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
}

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, Upstream& upstream, Clock& clock)
    : options_(options), upstream_(upstream), clock_(clock) {}

Dispatcher::~Dispatcher() { shutdown(); }

void Dispatcher::run(Actions& actions) {
  for (auto& action : actions) action();
}

void Dispatcher::setFunction(const std::string& key, FunctionRoute route) {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    FunctionState& function = functions_[key];
    function.concurrency = std::max(1, route.concurrency);
    std::vector<std::shared_ptr<ReplicaState>> next;
    for (Replica& replica : route.replicas) {
      auto same = std::find_if(function.replicas.begin(), function.replicas.end(),
                               [&](const auto& known) { return known->replica.address == replica.address; });
      if (same != function.replicas.end() && (*same)->replica.name == replica.name) {
        next.push_back(*same);  // keeps its outstanding count and backoff
      } else {
        next.push_back(std::make_shared<ReplicaState>(ReplicaState{std::move(replica)}));
      }
    }
    function.replicas = std::move(next);
    pumpLocked(key, function, actions);
  }
  run(actions);
}

void Dispatcher::removeFunction(const std::string& key) {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(key);
    if (it == functions_.end()) return;
    for (QueuedCall& queued : it->second.queue) {
      actions.push_back([done = std::move(queued.call.done), attempts = queued.attempts] {
        done(ended(CallEnd::kNotFound, "the Function is no longer routable", attempts));
      });
    }
    functions_.erase(it);
  }
  run(actions);
}

void Dispatcher::submit(const std::string& key, Call call) {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(key);
    if (it != functions_.end()) {
      // Demand, refused or not: the rate target scales on what clients ask for.
      if (!it->second.arrivals) it->second.arrivals.emplace(options_.rateWindow);
      it->second.arrivals->record(clock_.now());
    }
    if (it == functions_.end()) {
      actions.push_back([done = std::move(call.done)] { done(ended(CallEnd::kNotFound)); });
    } else if (it->second.queue.size() >= options_.queueLimit) {
      actions.push_back([done = std::move(call.done)] { done(ended(CallEnd::kQueueFull)); });
    } else {
      it->second.queue.push_back(QueuedCall{std::move(call), clock_.now() + options_.requestTimeout, 0});
      pumpLocked(key, it->second, actions);
      if (it->second.replicas.empty() && waitingAtZero_) {
        actions.push_back([listener = waitingAtZero_, key] { listener(key); });
      }
    }
  }
  run(actions);
}

void Dispatcher::pumpLocked(const std::string& key, FunctionState& function, Actions& actions) {
  const Clock::TimePoint now = clock_.now();
  while (!function.queue.empty()) {
    // The replica with the fewest outstanding calls and room for one more;
    // the scan starts one further each time so ties take turns.
    std::shared_ptr<ReplicaState> best;
    const std::size_t count = function.replicas.size();
    for (std::size_t i = 0; i < count; ++i) {
      const auto& candidate = function.replicas[(function.rotation + i) % count];
      if (candidate->retired || candidate->outstanding >= function.concurrency || candidate->coolUntil > now) continue;
      if (!best || candidate->outstanding < best->outstanding) best = candidate;
    }
    if (!best) return;
    ++function.rotation;
    QueuedCall call = std::move(function.queue.front());
    function.queue.pop_front();
    ++best->outstanding;
    ++function.inFlight;
    ++call.attempts;
    const std::chrono::milliseconds timeout = remaining(call.deadline, now);
    auto shared = std::make_shared<QueuedCall>(std::move(call));
    actions.push_back([this, key, best, shared, timeout] {
      upstream_.forward(best->replica.address, shared->call.request, timeout,
                        [this, key, best, shared](UpstreamResult result) {
                          onUpstreamResult(key, best, std::move(*shared), std::move(result));
                        });
    });
  }
}

void Dispatcher::onUpstreamResult(const std::string& key, const std::shared_ptr<ReplicaState>& replica, QueuedCall call,
                                  UpstreamResult result) {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    --replica->outstanding;
    auto it = functions_.find(key);
    if (it != functions_.end()) --it->second.inFlight;
    const Clock::TimePoint now = clock_.now();
    const bool unhandled =
        result.outcome == UpstreamOutcome::kNotReached || result.outcome == UpstreamOutcome::kRefused;
    if (result.outcome == UpstreamOutcome::kRefused) replica->retired = true;
    if (unhandled && it != functions_.end() && now < call.deadline) {
      // No handler saw it: try again (this replica after a pause, another at once).
      replica->coolUntil = now + options_.retryBackoff;
      it->second.queue.push_front(std::move(call));
      pumpLocked(key, it->second, actions);
    } else {
      CallResult done;
      done.replica = replica->replica.name;
      done.attempts = call.attempts;
      switch (result.outcome) {
        case UpstreamOutcome::kAnswered:
          done.end = CallEnd::kAnswered;
          done.response = std::move(result.response);
          break;
        case UpstreamOutcome::kNotReached:
        case UpstreamOutcome::kRefused:
        case UpstreamOutcome::kTimedOut:
          done.end = CallEnd::kTimedOut;
          done.detail = result.error;
          break;
        case UpstreamOutcome::kFailed:
          done.end = CallEnd::kUpstreamFailed;
          done.detail = result.error;
          // A broken connection most often means the replica died: while its
          // process goes, its listener may still take a connection whose
          // request it never reads (a 502 for a call no handler saw). After
          // the pause, a dead replica refuses connections: retried elsewhere.
          replica->coolUntil = now + options_.retryBackoff;
          break;
      }
      actions.push_back(
          [finish = std::move(call.call.done), done = std::move(done)]() mutable { finish(std::move(done)); });
      if (it != functions_.end()) pumpLocked(key, it->second, actions);
    }
  }
  run(actions);
}

void Dispatcher::tick() {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    const Clock::TimePoint now = clock_.now();
    for (auto& [key, function] : functions_) {
      for (auto it = function.queue.begin(); it != function.queue.end();) {
        if (it->deadline <= now) {
          actions.push_back([done = std::move(it->call.done), attempts = it->attempts] {
            done(ended(CallEnd::kTimedOut, "no replica took the request in time", attempts));
          });
          it = function.queue.erase(it);
        } else {
          ++it;
        }
      }
      pumpLocked(key, function, actions);
    }
  }
  run(actions);
}

std::vector<FunctionLoad> Dispatcher::loads() const {
  std::lock_guard lock(mu_);
  std::vector<FunctionLoad> loads;
  const Clock::TimePoint now = clock_.now();
  for (const auto& [key, function] : functions_) {
    loads.push_back(FunctionLoad{key, static_cast<int>(function.queue.size()), function.inFlight,
                                 static_cast<int>(function.replicas.size()),
                                 function.arrivals ? function.arrivals->perSecond(now) : 0.0});
  }
  return loads;
}

void Dispatcher::setWaitingAtZeroListener(std::function<void(const std::string& key)> listener) {
  std::lock_guard lock(mu_);
  waitingAtZero_ = std::move(listener);
}

std::vector<std::string> Dispatcher::waitingAtZero() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, function] : functions_) {
    if (function.replicas.empty() && !function.queue.empty()) keys.push_back(key);
  }
  return keys;
}

void Dispatcher::shutdown() {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, function] : functions_) {
      for (QueuedCall& queued : function.queue) {
        actions.push_back([done = std::move(queued.call.done), attempts = queued.attempts] {
          done(ended(CallEnd::kStopping, "the gateway is stopping", attempts));
        });
      }
      function.queue.clear();
    }
  }
  run(actions);
}

void Dispatcher::recordArrival(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = functions_.find(key);
  if (it == functions_.end()) return;
  // As submit() counts its calls (kept apart from that hot path).
  if (!it->second.arrivals) it->second.arrivals.emplace(options_.rateWindow);
  it->second.arrivals->record(clock_.now());
}

}  // namespace sluice::gateway
