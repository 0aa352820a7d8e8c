#include "gateway/activation_feed.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

namespace sluice::gateway {

namespace {

using Answers = std::vector<std::pair<std::function<void(Activations)>, Activations>>;

void run(Answers& answers) {
  for (auto& [answer, activations] : answers) answer(std::move(activations));
}

}  // namespace

ActivationFeed::ActivationFeed(ActivationFeedOptions options, Clock& clock, std::string instance,
                               std::function<std::vector<std::string>()> waitingNow)
    : options_(options), clock_(clock), instance_(std::move(instance)), waitingNow_(std::move(waitingNow)) {}

ActivationFeed::~ActivationFeed() { shutdown(); }

Activations ActivationFeed::raisedAfterLocked(uint64_t after) const {
  Activations activations{instance_, sequence_, {}};
  for (const auto& [key, raised] : raised_) {
    if (raised.sequence > after) activations.keys.push_back(key);
  }
  return activations;
}

void ActivationFeed::raise(const std::string& key) {
  Answers answers;
  {
    std::lock_guard lock(mu_);
    raised_[key] = Raised{++sequence_, clock_.now()};
    // Every waiter's `after` is below the new sequence: each one has news.
    for (Waiter& waiter : waiters_) answers.emplace_back(std::move(waiter.answer), raisedAfterLocked(waiter.after));
    waiters_.clear();
  }
  run(answers);
}

void ActivationFeed::wait(const ActivationQuery& query, std::function<void(Activations)> answer) {
  Activations now{instance_, 0, {}};
  bool fromThePresent = false;
  {
    std::lock_guard lock(mu_);
    now.sequence = sequence_;
    const bool known = query.instance == instance_ && query.after <= sequence_ && query.after >= forgottenThrough_;
    if (!stopped_ && known) {
      now = raisedAfterLocked(query.after);
      if (now.keys.empty()) {
        const auto wait = std::min<std::chrono::seconds>(query.wait, options_.maxWait);
        waiters_.push_back(Waiter{query.after, clock_.now() + wait, std::move(answer)});
        return;
      }
    } else if (!stopped_) {
      fromThePresent = true;
    }
  }
  if (fromThePresent && waitingNow_) {
    // A watcher that cannot know what it missed gets the Functions waiting now
    // (read outside the lock: the Dispatcher takes its own), even none, so it
    // learns our instance and sequence. A raise after `now.sequence` comes next.
    now.keys = waitingNow_();
    std::sort(now.keys.begin(), now.keys.end());
  }
  answer(std::move(now));
}

void ActivationFeed::tick() {
  Answers answers;
  {
    std::lock_guard lock(mu_);
    const Clock::TimePoint now = clock_.now();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        answers.emplace_back(std::move(it->answer), Activations{instance_, sequence_, {}});
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = raised_.begin(); it != raised_.end();) {
      if (now - it->second.at >= options_.memory) {
        forgottenThrough_ = std::max(forgottenThrough_, it->second.sequence);
        it = raised_.erase(it);
      } else {
        ++it;
      }
    }
  }
  run(answers);
}

void ActivationFeed::shutdown() {
  Answers answers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (Waiter& waiter : waiters_)
      answers.emplace_back(std::move(waiter.answer), Activations{instance_, sequence_, {}});
    waiters_.clear();
  }
  run(answers);
}

bool ActivationFeed::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

std::size_t ActivationFeed::waiters() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

Result<ActivationQuery> activationQueryFrom(const std::string& target) {
  ActivationQuery query;
  const size_t question = target.find('?');
  std::string rest = question == std::string::npos ? std::string() : target.substr(question + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string pair = rest.substr(0, amp);
    rest = amp == std::string::npos ? std::string() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string name = pair.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : pair.substr(eq + 1);
    auto number = [&](uint64_t& out) {
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
      return error == std::errc() && end == value.data() + value.size() && !value.empty();
    };
    if (name == "instance") {
      // Ours are hex; anything else cannot be ours (and is not echoed back).
      if (!std::all_of(value.begin(), value.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
        return invalidArgument("instance: not a gateway instance id");
      query.instance = value;
    } else if (name == "after") {
      if (!number(query.after)) return invalidArgument("after: not a sequence number: " + value);
    } else if (name == "waitSeconds") {
      uint64_t seconds = 0;
      if (!number(seconds) || seconds > 3600) return invalidArgument("waitSeconds: not 0..3600: " + value);
      query.wait = std::chrono::seconds(seconds);
    }
  }
  return query;
}

std::string activationsJson(const Activations& activations) {
  nlohmann::json functions = nlohmann::json::array();
  for (const std::string& key : activations.keys) {
    const size_t slash = key.find('/');
    functions.push_back({{"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}});
  }
  return nlohmann::json{
      {"instance", activations.instance}, {"sequence", activations.sequence}, {"functions", functions}}
      .dump();
}

}  // namespace sluice::gateway
