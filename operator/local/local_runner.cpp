#include "local/local_runner.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/logging.h"
#include "controllers/function/function_controller.h"
#include "local/manifests.h"
#include "spec/runtime_config_render.h"

namespace sluice::local {

using nlohmann::json;

Result<json> localConfiguration(const json& function, json configuration, const LocalRunnerOptions& options) {
  const json& spec = function.value("spec", json::object());
  if (spec.value("runtime", "python3.11") != "builtin") {
    const json& code = spec.value("code", json::object());
    for (const char* field : {"configMapRef", "image"}) {
      if (code.contains(field)) {
        return invalidArgument(std::string("spec.code.") + field +
                               ": --local runs inline code only (spec.code.inline)");
      }
    }
    const std::string handler = spec.value("handler", "index.main_handler");
    configuration["codeFiles"] = {{handler.substr(0, handler.rfind('.')) + ".py", code.value("inline", "")}};
    configuration.erase("codeDir");
  }
  for (json& trigger : configuration["triggers"]) {
    if (trigger.contains("objectStore") && trigger["objectStore"].value("kind", "") == "dir") {
      trigger["objectStore"]["pollInterval"] = options.dirPollInterval;
      trigger["objectStore"]["claimTtl"] = options.dirClaimTtl;
    }
  }
  return configuration;
}

LocalRunner::LocalRunner(LocalRunnerOptions options, LocalStore& store, platform::LocalPlatform& platform,
                         controllers::ScalerFactory& scalers, controller::EventRecorder& events,
                         autoscaler::AutoscalerMetrics* metrics, Clock& clock)
    : options_(std::move(options)),
      store_(store),
      platform_(platform),
      clock_(clock),
      autoscaler_(controllers::AutoscaleReconcilerOptions{}, store,
                  controllers::AutoscaleCaches{store.functions(), store.triggers()}, scalers, events, metrics, clock) {}

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
  for (const char* kind : {"Function", "Trigger"}) {
    const kube::ObjectCache& cache = std::string(kind) == "Function" ? store_.functions() : store_.triggers();
    for (const std::string& key : cache.keys()) {
      if (!wanted.contains({kind, key})) {
        SLUICE_LOG_INFO("local: {} {} removed", kind, key);
        store_.erase(kind, key);
      }
    }
  }
  return errors;
}

void LocalRunner::ensureDirectory(const std::string& path) {
  if (path.empty() || !ensuredDirectories_.insert(path).second) return;
  std::error_code ec;
  if (std::filesystem::create_directories(path, ec)) SLUICE_LOG_INFO("local: created directory {}", path);
  if (ec) SLUICE_LOG_WARN("local: cannot create directory {}: {}", path, ec.message());
}

void LocalRunner::round() {
  std::set<std::string> live;
  for (const kube::ObjectPtr& fn : store_.functions().list()) {
    const std::string key = kube::objectKey(*fn);
    live.insert(key);
    // The autoscaler keeps each Function's schedule itself: between its
    // rounds this call returns at once.
    (void)autoscaler_.reconcile(key);
    kube::ObjectPtr function = store_.functions().get(key);
    if (!function) continue;
    std::vector<json> triggers;
    for (const kube::ObjectPtr& t : store_.triggers().byNamespace((*function)["metadata"].value("namespace", ""))) {
      triggers.push_back(*t);
    }
    auto rendered = spec::renderRuntimeConfig(*function, triggers);
    Result<json> configuration =
        rendered.isOk() ? localConfiguration(*function, rendered->config, options_) : Result<json>(rendered.status());
    if (!configuration.isOk()) {
      const std::string message = "Function " + key + ": " + configuration.status().message();
      if (reportedRenderErrors_.insert(message).second) SLUICE_LOG_ERROR("local: {}", message);
      platform_.forget(key);
      applied_.erase(key);
      continue;
    }
    // A local directory trigger or output may not exist yet on a fresh machine
    // (examples/ name paths under /tmp); the runtime refuses missing ones.
    for (const json& trigger : (*configuration)["triggers"]) {
      if (trigger.contains("objectStore") && trigger["objectStore"].value("kind", "") == "dir") {
        ensureDirectory(trigger["objectStore"].value("prefix", ""));
      }
    }
    for (const json& output : (*configuration)["outputs"]) {
      if (output.contains("dir")) ensureDirectory(output["dir"].value("path", ""));
    }
    platform::ReplicaSpec spec;
    spec.key = key;
    spec.configuration = std::move(*configuration);
    spec.desired = controllers::FunctionController::desiredReplicas(*function);
    (void)platform_.apply(spec);
    applied_.insert(key);
  }
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (live.contains(*it)) {
      ++it;
      continue;
    }
    platform_.forget(*it);
    (void)autoscaler_.reconcile(*it);  // drops the autoscaler's state of it
    it = applied_.erase(it);
  }
  platform_.tick();
}

void LocalRunner::run(const std::stop_token& stop) {
  Clock::TimePoint nextReload = clock_.now();
  while (!stop.stop_requested()) {
    if (clock_.now() >= nextReload) {
      (void)reload();
      nextReload = clock_.now() + options_.reloadInterval;
    }
    round();
    if (!clock_.sleepFor(options_.tickInterval, stop)) break;
  }
  SLUICE_LOG_INFO("local: stopping: draining every replica");
  platform_.shutdown();
}

}  // namespace sluice::local
