#include "local/local_runner.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/logging.h"
#include "local/manifests.h"

namespace sluice::local {

using nlohmann::json;

LocalRunner::LocalRunner(LocalRunnerOptions options, LocalStore& store, platform::LocalPlatform& platform,
                         controllers::ScalerFactory& scalers, controller::EventRecorder& events,
                         autoscaler::AutoscalerMetrics* metrics, Clock& clock)
    : options_(std::move(options)),
      store_(store),
      platform_(platform),
      clock_(clock),
      autoscaler_(controllers::AutoscaleReconcilerOptions{}, store,
                  controllers::AutoscaleCaches{store.functions(), store.triggers()}, scalers, events, metrics, clock),
      functions_(store, controllers::FunctionControllerCaches{store.functions(), store.triggers()}, platform, events,
                 clock, options_.gatewayUrl),
      cron_(store, store.triggers(), platform, events, clock) {}

std::vector<std::string> LocalRunner::reload() {
  std::vector<std::string> errors;
  std::set<std::string> present;
  for (const std::string& path : manifestPaths(options_.dir)) {
    present.insert(path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    const long long mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    FileState& state = files_[path];
    if (state.mtimeNs == mtime && state.size == static_cast<long long>(st.st_size)) continue;
    state.mtimeNs = mtime;
    state.size = st.st_size;
    ManifestFile file = loadManifestFile(path, CrdValidator::builtin());
    if (!file.errors.empty()) {
      for (const std::string& error : file.errors) SLUICE_LOG_ERROR("local: {}", error);
      errors.insert(errors.end(), file.errors.begin(), file.errors.end());
      if (!state.objects.empty()) {
        SLUICE_LOG_WARN("local: {}: keeping its {} object(s) as they were before this change", path,
                        state.objects.size());
      }
      continue;
    }
    SLUICE_LOG_INFO("local: {}: {} object(s)", path, file.objects.size());
    state.objects = std::move(file.objects);
  }
  for (auto it = files_.begin(); it != files_.end();) {
    it = present.contains(it->first) ? std::next(it) : files_.erase(it);
  }
  // The union of every file's objects; a name defined twice: the later file wins.
  std::map<std::pair<std::string, std::string>, json> wanted;
  for (const auto& [path, state] : files_) {
    for (const json& object : state.objects) {
      auto id = std::make_pair(object.value("kind", std::string()), kube::objectKey(object));
      if (wanted.contains(id)) SLUICE_LOG_WARN("local: {} {} is defined twice; {} wins", id.first, id.second, path);
      wanted[id] = object;
    }
  }
  for (const auto& [id, object] : wanted) store_.put(object);
  for (const char* kind : {"Function", "Trigger", "Secret"}) {
    const std::string k = kind;
    const kube::ObjectCache& cache =
        k == "Function" ? store_.functions() : (k == "Trigger" ? store_.triggers() : store_.secrets());
    for (const std::string& key : cache.keys()) {
      if (!wanted.contains({kind, key})) {
        SLUICE_LOG_INFO("local: {} {} removed", kind, key);
        store_.erase(kind, key);
      }
    }
  }
  return errors;
}

namespace {

// What a refused Function waits on: its own spec and its namespace's Triggers.
std::string generationsOf(const LocalStore& store, const json& function) {
  std::string out = std::to_string(function["metadata"].value("generation", 0LL));
  for (const kube::ObjectPtr& t : store.triggers().byNamespace(function["metadata"].value("namespace", ""))) {
    out += " " + kube::objectKey(*t) + "@" + std::to_string((*t)["metadata"].value("generation", 0LL));
  }
  return out;
}

}  // namespace

void LocalRunner::reschedule(Schedule& schedule, const controller::ReconcileResult& result, Clock::TimePoint now,
                             std::string generations) {
  schedule.refusedAt = result.terminal ? std::move(generations) : std::string();
  // Errors are retried after a second, as the Controller's backoff would start.
  const Clock::Duration delay =
      !result.status.isOk() ? Clock::Duration(std::chrono::seconds(1)) : result.requeueAfterDelay;
  schedule.next = now + delay;
}

void LocalRunner::round() {
  std::set<std::string> live;
  const Clock::TimePoint now = clock_.now();
  for (const kube::ObjectPtr& fn : store_.functions().list()) {
    const std::string key = kube::objectKey(*fn);
    live.insert(key);
    // The autoscaler keeps each Function's schedule itself: between its
    // rounds this call returns at once.
    (void)autoscaler_.reconcile(key);
    kube::ObjectPtr function = store_.functions().get(key);
    if (!function) continue;
    // A refused spec waits for an edit (as the Controller drops a terminal error);
    // anything else is looked at every round: the platform's processes move on their own.
    auto refused = refused_.find(key);
    const std::string generations = generationsOf(store_, *function);
    if (refused != refused_.end() && refused->second.refusedAt == generations) continue;
    controller::ReconcileResult result = functions_.reconcile(key);
    if (result.terminal) {
      reschedule(refused_[key], result, now, generations);
    } else {
      refused_.erase(key);
      if (!result.status.isOk()) SLUICE_LOG_WARN("local: Function {}: {}", key, result.status.toString());
    }
    applied_.insert(key);
    announceUrl(key);
  }
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (live.contains(*it)) {
      ++it;
      continue;
    }
    (void)functions_.reconcile(*it);   // gone: the platform drains its replicas
    (void)autoscaler_.reconcile(*it);  // drops the autoscaler's state of it
    refused_.erase(*it);
    urls_.erase(*it);
    it = applied_.erase(it);
  }
  platform_.tick();
  if (options_.afterRound) options_.afterRound();
}

void LocalRunner::announceUrl(const std::string& key) {
  kube::ObjectPtr function = store_.functions().get(key);
  std::string url = function ? function->value("/status/url"_json_pointer, std::string()) : std::string();
  std::string& known = urls_[key];
  if (url == known) return;
  if (!url.empty()) SLUICE_LOG_INFO("local: Function {} answers HTTP at {}", key, url);
  known = std::move(url);
}

void LocalRunner::fireCron() {
  const Clock::TimePoint now = clock_.now();
  std::set<std::string> live;
  for (const kube::ObjectPtr& trigger : store_.triggers().list()) {
    if (!trigger->contains("/spec/cron"_json_pointer)) continue;
    const std::string key = kube::objectKey(*trigger);
    live.insert(key);
    Schedule& schedule = cronTimes_[key];
    const std::string generation = std::to_string((*trigger)["metadata"].value("generation", 0LL));
    // As the Controller's watch would: a spec change is looked at at once.
    const bool changed = schedule.generation != generation;
    if (!changed && (!schedule.refusedAt.empty() || now < schedule.next)) continue;
    schedule.generation = generation;
    controller::ReconcileResult result = cron_.reconcile(key);
    if (!result.status.isOk()) SLUICE_LOG_WARN("local: cron Trigger {}: {}", key, result.status.toString());
    reschedule(schedule, result, now, generation);
  }
  std::erase_if(cronTimes_, [&live](const auto& entry) { return !live.contains(entry.first); });
}

void LocalRunner::run(const std::stop_token& stop) {
  std::jthread cron([this](const std::stop_token& cronStop) {
    while (!cronStop.stop_requested()) {
      fireCron();
      if (!clock_.sleepFor(options_.tickInterval, cronStop)) break;
    }
  });
  Clock::TimePoint nextReload = clock_.now();
  while (!stop.stop_requested()) {
    if (clock_.now() >= nextReload) {
      (void)reload();
      nextReload = clock_.now() + options_.reloadInterval;
    }
    round();
    if (!clock_.sleepFor(options_.tickInterval, stop)) break;
  }
  cron.request_stop();
  SLUICE_LOG_INFO("local: stopping: draining every replica");
  platform_.shutdown();
  cron.join();  // after the drain: an invocation in flight has had its answer by then
}

}  // namespace sluice::local
