#include "localmode/local_operator.h"

#include <set>
#include <thread>

#include "common/logging.h"
#include "spec/resources.h"

namespace sluice::localmode {

LocalOperator::LocalOperator(LocalOperatorOptions options, kube::InMemoryResourceClient& store,
                             reconcile::Manager& manager, controllers::Controllers& controllers,
                             platform::LocalPlatform& platform, Clock& clock)
    : options_(std::move(options)),
      manager_(manager),
      controllers_(controllers),
      platform_(platform),
      clock_(clock),
      loader_(options_.dir, store) {
  manager_.informer(spec::kFunctions)
      .addHandler(kube::EventHandler{[this](const kube::Json& function) { announceUrl(function); },
                                     [this](const kube::Json&, const kube::Json& function) { announceUrl(function); },
                                     [this](const kube::Json& function) {
                                       std::lock_guard lock(urlsMu_);
                                       urls_.erase(kube::objectKey(function));
                                     }});
  // A Function waiting for a Secret (its processes get it in their environment) starts once it appears.
  auto recheckNamespace = [this](const kube::Json& secret) {
    const std::string ns = secret.value("/metadata/namespace"_json_pointer, std::string());
    for (const kube::ObjectPtr& function : manager_.informer(spec::kFunctions).cache().byNamespace(ns)) {
      controllers_.recheckFunction(kube::objectKey(*function));
    }
  };
  manager_.informer(kube::resources::kSecrets)
      .addHandler(kube::EventHandler{
          recheckNamespace,
          [recheckNamespace](const kube::Json&, const kube::Json& secret) { recheckNamespace(secret); }, nullptr});
}

std::vector<std::string> LocalOperator::reload() { return loader_.reload(); }

void LocalOperator::announceUrl(const kube::Json& function) {
  const std::string key = kube::objectKey(function);
  std::string url = function.value("/status/url"_json_pointer, std::string());
  std::lock_guard lock(urlsMu_);
  std::string& known = urls_[key];
  if (url == known) return;
  if (!url.empty()) SLUICE_LOG_INFO("local: Function {} answers HTTP at {}", key, url);
  known = std::move(url);
}

void LocalOperator::round() {
  platform_.tick();
  std::set<std::string> live;
  for (const std::string& key : manager_.informer(spec::kFunctions).cache().keys()) {
    live.insert(key);
    const platform::ReplicaCounts now = platform_.counts(key);
    auto known = counts_.find(key);
    if (known != counts_.end() && known->second == now) continue;
    counts_[key] = now;
    controllers_.recheckFunction(key);
  }
  std::erase_if(counts_, [&live](const auto& entry) { return !live.contains(entry.first); });
  if (options_.afterRound) options_.afterRound();
}

int LocalOperator::run(const std::stop_token& stop) {
  std::stop_source managerStop;
  int exitCode = 0;
  std::jthread manager([this, &exitCode, token = managerStop.get_token()] { exitCode = manager_.run(token); });
  Clock::TimePoint nextReload = clock_.now();
  while (!stop.stop_requested()) {
    if (clock_.now() >= nextReload) {
      (void)reload();
      nextReload = clock_.now() + options_.reloadInterval;
    }
    round();
    if (!clock_.sleepFor(options_.tickInterval, stop)) break;
  }
  // The replicas drain first, while the controllers still run: a cron
  // delivery in flight has had its answer by the time the Manager stops.
  SLUICE_LOG_INFO("local: stopping: draining every replica");
  platform_.shutdown();
  managerStop.request_stop();
  manager.join();
  return exitCode;
}

}  // namespace sluice::localmode
