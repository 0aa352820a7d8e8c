#include "platform/local/local_platform.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "common/encoding.h"
#include "common/logging.h"
#include "kube/resource.h"
#include "platform/replica_plan.h"

namespace sluice::platform {

namespace {

bool isReplica(int state) { return state >= 2; }  // kStarting, kReady, kDraining

std::string fileNameFor(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '/' ? '_' : c;
  return out + ".json";
}

}  // namespace

LocalPlatform::LocalPlatform(LocalPlatformOptions options, ProcessRunner& processes, RuntimeEndpoint& endpoint,
                             Clock& clock, std::shared_ptr<prometheus::Registry> registry,
                             kube::ResourceClient* secrets)
    : options_(std::move(options)),
      processes_(processes),
      endpoint_(endpoint),
      clock_(clock),
      secrets_(secrets),
      registry_(std::move(registry)) {
  lastTick_ = clock_.now();
  if (registry_) {
    replicasGauge_ = &prometheus::BuildGauge()
                          .Name("sluice_local_replicas")
                          .Help("Replica processes of a Function by state (starting, ready, draining)")
                          .Register(*registry_);
    desiredGauge_ = &prometheus::BuildGauge()
                         .Name("sluice_local_desired_replicas")
                         .Help("Replicas a Function asks for (the autoscaler's decision or spec.replicas)")
                         .Register(*registry_);
    restartsCounter_ = &prometheus::BuildCounter()
                            .Name("sluice_local_replica_restarts_total")
                            .Help("Replica processes that exited on their own and were replaced")
                            .Register(*registry_);
    replicaSecondsCounter_ = &prometheus::BuildCounter()
                                  .Name("sluice_local_replica_seconds_total")
                                  .Help("Replica processes alive times seconds: what the replicas cost")
                                  .Register(*registry_);
    warmGauge_ = &prometheus::BuildGauge()
                      .Name("sluice_local_warm_processes")
                      .Help("Unspecialized runtime processes ready to be adopted")
                      .Register(*registry_)
                      .Add({});
  }
}

Result<nlohmann::json> localConfiguration(const nlohmann::json& function, nlohmann::json configuration,
                                          const LocalPlatformOptions& options) {
  using nlohmann::json;
  const json& spec = function.value("spec", json::object());
  // spec.protocol http: the handler is a server the user starts on spec.http.port (docs/handler-images.md).
  if (spec.value("runtime", "python3.11") != "builtin" && configuration.value("runtime", "") != "http") {
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
    if (trigger.contains("objectStore")) {
      trigger["objectStore"]["pollInterval"] = options.objectPollInterval;
      trigger["objectStore"]["claimTtl"] = options.objectClaimTtl;
    }
  }
  return configuration;
}

Result<ApplyOutcome> LocalPlatform::apply(const ReplicaSpec& spec) {
  auto configuration = localConfiguration(spec.function, spec.rendered.config, options_);
  if (!configuration.isOk()) return configuration.status();
  for (const nlohmann::json& trigger : (*configuration)["triggers"]) {
    if (trigger.contains("objectStore") && trigger["objectStore"].value("kind", "") == "dir") {
      ensureDirectory(trigger["objectStore"].value("prefix", ""));
    }
  }
  for (const nlohmann::json& output : (*configuration)["outputs"]) {
    if (output.contains("dir")) ensureDirectory(output["dir"].value("path", ""));
  }
  LocalReplicaSpec local;
  local.key = spec.key;
  local.configuration = std::move(*configuration);
  local.desired = spec.desired;
  const std::string ns = spec.function.value("/metadata/namespace"_json_pointer, std::string("default"));
  for (const spec::SecretEnv& secret : spec.rendered.secretEnvs) {
    auto value = secretValue(ns, secret.secretName, secret.secretKey);
    if (value.isOk()) {
      local.env.emplace_back(secret.envName, *value);
    } else if (!secret.optional || value.status().code() != StatusCode::kNotFound) {
      // As a pod that cannot start: retried until the Secret appears.
      return Status(StatusCode::kUnavailable, value.status().message());
    }
  }
  local.adoptable = local.env.empty();
  ApplyOutcome outcome;
  outcome.counts = counts(spec.key);
  outcome.counts.desired = spec.desired;
  if (options_.warmPoolSize > 0) outcome.counts.warm = warmReady();
  applyConfiguration(local);
  return outcome;
}

Result<std::string> LocalPlatform::secretValue(const std::string& ns, const std::string& name,
                                               const std::string& key) const {
  const std::string what = "Secret " + ns + "/" + name;
  if (secrets_ == nullptr) return notFound(what + " not found (no Secrets here)");
  auto secret = secrets_->get(kube::resources::kSecrets, ns, name);
  // Said as kubectl would, without the API call's details (the store is in memory).
  if (secret.status().code() == StatusCode::kNotFound) return notFound(what + ": secrets \"" + name + "\" not found");
  if (!secret.isOk()) return secret.status().withContext(what);
  const nlohmann::json& data = secret->value("data", nlohmann::json::object());
  if (!data.contains(key) || !data[key].is_string()) return notFound(what + " has no key " + key);
  auto decoded = base64Decode(data[key].get<std::string>());
  if (!decoded.isOk()) return decoded.status().withContext(what + " key " + key);
  return *decoded;
}

void LocalPlatform::ensureDirectory(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    if (path.empty() || !ensuredDirectories_.insert(path).second) return;
  }
  std::error_code ec;
  if (std::filesystem::create_directories(path, ec)) SLUICE_LOG_INFO("local: created directory {}", path);
  if (ec) SLUICE_LOG_WARN("local: cannot create directory {}: {}", path, ec.message());
}

void LocalPlatform::applyConfiguration(const LocalReplicaSpec& spec) {
  std::lock_guard lock(mu_);
  FunctionState& function = functions_[spec.key];
  function.spec = spec;
  function.forgotten = false;
  std::string identity = spec.configuration.dump();
  for (const auto& [name, value] : spec.env) identity += "\n" + name + "=" + value;
  function.configurationHash = std::to_string(std::hash<std::string>{}(identity));
}

Result<std::string> LocalPlatform::invoke(const std::string& key, const std::string& trigger,
                                          const std::string& eventType, const std::string& body) {
  int pid = 0;
  int port = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [childPid, p] : children_) {
      if (p.function == key && p.state == State::kReady) {
        pid = childPid;
        port = p.dataPort;
        break;
      }
    }
  }
  if (port == 0) return unavailable("no ready replica process of Function " + key);
  // Outside the lock: the handler may take a while, and tick() must go on.
  if (Status s = endpoint_.invoke(port, trigger, eventType, body); !s.isOk()) return s;
  return "process " + std::to_string(pid);
}

void LocalPlatform::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = functions_.find(key);
  if (it == functions_.end()) return;
  it->second.forgotten = true;
  it->second.spec.desired = 0;
}

ReplicaCounts LocalPlatform::counts(const std::string& key) const {
  std::lock_guard lock(mu_);
  ReplicaCounts out;
  auto it = functions_.find(key);
  if (it != functions_.end()) {
    out.desired = it->second.spec.desired;
    out.restarts = it->second.restarts;
  }
  for (const auto& [pid, p] : children_) {
    if (p.function != key) continue;
    if (p.state == State::kStarting) ++out.starting;
    if (p.state == State::kReady) ++out.ready;
    if (p.state == State::kDraining) ++out.draining;
  }
  return out;
}

int LocalPlatform::warmReady() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [pid, p] : children_) n += p.state == State::kWarm ? 1 : 0;
  return n;
}

std::vector<int> LocalPlatform::replicaPids(const std::string& key) const {
  std::lock_guard lock(mu_);
  std::vector<int> out;
  for (const auto& [pid, p] : children_) {
    if (p.function == key && (p.state == State::kStarting || p.state == State::kReady)) out.push_back(pid);
  }
  return out;
}

std::vector<LocalPlatform::ReadyReplica> LocalPlatform::readyReplicas(const std::string& key) const {
  std::lock_guard lock(mu_);
  std::vector<ReadyReplica> out;
  for (const auto& [pid, p] : children_) {
    if (p.function == key && p.state == State::kReady) out.push_back(ReadyReplica{pid, p.dataPort});
  }
  return out;
}

double LocalPlatform::replicaSeconds() const {
  std::lock_guard lock(mu_);
  return replicaSeconds_;
}

std::string LocalPlatform::configPathFor(const std::string& key) const {
  return (std::filesystem::path(options_.stateDir) / fileNameFor(key)).string();
}

void LocalPlatform::tick() {
  std::lock_guard lock(mu_);
  const Clock::TimePoint now = clock_.now();
  const double elapsed = std::chrono::duration<double>(now - lastTick_).count();
  for (const auto& [pid, p] : children_) {
    if (isReplica(static_cast<int>(p.state))) {
      replicaSeconds_ += elapsed;
      if (replicaSecondsCounter_) replicaSecondsCounter_->Add({{"function", p.function}}).Increment(elapsed);
    }
  }
  lastTick_ = now;

  reapLocked(now);
  // Readiness of what is starting; drains that overran their grace.
  for (auto& [pid, p] : children_) {
    if (p.state == State::kWarmStarting || p.state == State::kStarting) {
      if (endpoint_.ready(p.port)) {
        p.state = p.state == State::kWarmStarting ? State::kWarm : State::kReady;
      } else if (p.state == State::kWarmStarting && now - p.startedAt > options_.warmReadyTimeout) {
        SLUICE_LOG_WARN("local: warm runtime {} not ready after {} ms; killing it", pid,
                        options_.warmReadyTimeout.count());
        processes_.signal(pid, SIGKILL);
      }
    }
    if (p.state == State::kDraining && now >= p.drainDeadline) {
      SLUICE_LOG_WARN("local: replica {} of {} still draining after the grace; killing it", pid, p.function);
      processes_.signal(pid, SIGKILL);
      p.drainDeadline = now + std::chrono::hours(24);  // once
    }
  }
  for (auto it = functions_.begin(); it != functions_.end();) {
    scaleLocked(it->first, it->second, now);
    bool empty = std::none_of(children_.begin(), children_.end(),
                              [&](const auto& entry) { return entry.second.function == it->first; });
    if (it->second.forgotten && empty) {
      std::error_code ec;
      std::filesystem::remove(configPathFor(it->first), ec);
      it = functions_.erase(it);
    } else {
      ++it;
    }
  }
  startWarmLocked(now);
  publishLocked(now);
}

void LocalPlatform::reapLocked(Clock::TimePoint now) {
  for (const auto& [pid, code] : processes_.reapExited()) {
    auto it = children_.find(pid);
    if (it == children_.end()) continue;
    Process p = it->second;
    children_.erase(it);
    if (p.state == State::kDraining) {
      SLUICE_LOG_INFO("local: replica {} of {} drained and exited ({})", pid, p.function, code);
      continue;
    }
    if (p.state == State::kWarmStarting || p.state == State::kWarm) {
      SLUICE_LOG_WARN("local: warm runtime {} exited ({})", pid, code);
      continue;
    }
    auto f = functions_.find(p.function);
    if (f == functions_.end()) continue;
    FunctionState& function = f->second;
    ++function.restarts;
    if (restartsCounter_) restartsCounter_->Add({{"function", p.function}}).Increment();
    function.backoff = function.backoff == Clock::Duration{}
                           ? Clock::Duration(options_.initialBackoff)
                           : std::min<Clock::Duration>(function.backoff * 2, options_.maxBackoff);
    function.nextStartAllowed = now + function.backoff;
    SLUICE_LOG_WARN("local: replica {} of {} exited on its own ({}); replacing it in {} ms", pid, p.function, code,
                    std::chrono::duration_cast<std::chrono::milliseconds>(function.backoff).count());
  }
}

void LocalPlatform::drainLocked(Process& process, Clock::TimePoint now) {
  processes_.signal(process.pid, SIGTERM);
  process.state = State::kDraining;
  process.drainDeadline = now + options_.drainGrace + std::chrono::seconds(5);
}

void LocalPlatform::scaleLocked(const std::string& key, FunctionState& function, Clock::TimePoint now) {
  // The KubePlatform's pure plan (platform/replica_plan.h), processes standing in for pods: the same
  // scale-down order and the same rolling replacement (one fresh replica first) on a changed configuration.
  ReplicaPlanInput input;
  input.desired = function.spec.desired;
  input.currentTemplateHash = function.configurationHash;
  std::map<std::string, Process*> byName;
  for (auto& [pid, p] : children_) {
    if (p.function != key || (p.state != State::kStarting && p.state != State::kReady)) continue;
    ReplicaPod pod;
    pod.name = std::to_string(pid);
    pod.templateHash = p.configurationHash;
    pod.scheduled = true;
    pod.ready = p.state == State::kReady;
    // Only the order matters; of processes started in one tick, the later spawn (higher pid) is the younger.
    pod.created = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(p.startedAt.time_since_epoch()) +
        std::chrono::nanoseconds(pid));
    input.pods.push_back(std::move(pod));
    byName[input.pods.back().name] = &p;
    // A replica that stays up resets its Function's crash backoff.
    if (p.state == State::kReady && now - p.startedAt >= options_.healthyAfter) function.backoff = {};
  }
  if (function.spec.adoptable) {
    input.warmAvailable = static_cast<int>(std::count_if(children_.begin(), children_.end(),
                                                         [](const auto& c) { return c.second.state == State::kWarm; }));
  }
  const ReplicaPlan plan = planReplicas(input);
  for (const PodRemoval& removal : plan.remove) {
    Process& process = *byName.at(removal.name);
    SLUICE_LOG_INFO("local: {}: {}, draining replica {}", key,
                    removal.reason == RemovalReason::kReplaced ? "configuration changed" : "scaling down", process.pid);
    drainLocked(process, now);
  }
  for (int missing = plan.adopt + plan.create; missing > 0; --missing) {
    if (now < function.nextStartAllowed) return;  // crash backoff
    if (!startReplicaLocked(key, function, now)) return;
  }
}

bool LocalPlatform::startReplicaLocked(const std::string& key, FunctionState& function, Clock::TimePoint now) {
  const std::string configuration = function.spec.configuration.dump();
  if (function.spec.adoptable) {
    // The oldest ready warm process, as the KubePlatform adopts warm pods.
    Process* warm = nullptr;
    for (auto& [pid, p] : children_) {
      if (p.state == State::kWarm && (!warm || p.startedAt < warm->startedAt)) warm = &p;
    }
    if (warm) {
      Status specialized = endpoint_.specialize(warm->port, options_.token, configuration);
      if (specialized.isOk()) {
        warm->state = State::kStarting;
        warm->function = key;
        warm->configurationHash = function.configurationHash;
        warm->startedAt = now;
        SLUICE_LOG_INFO("local: {}: adopted warm runtime {} (port {})", key, warm->pid, warm->port);
        return true;
      }
      SLUICE_LOG_WARN("local: {}: specializing warm runtime {}: {}; killing it", key, warm->pid,
                      specialized.toString());
      processes_.signal(warm->pid, SIGKILL);
      warm->state = State::kDraining;  // reaped as a drained process
      warm->drainDeadline = now + std::chrono::hours(24);
    }
  }
  const std::string path = configPathFor(key);
  {
    std::error_code ec;
    std::filesystem::create_directories(options_.stateDir, ec);
    std::ofstream out(path + ".tmp", std::ios::trunc);
    out << configuration;
    out.close();
    std::filesystem::rename(path + ".tmp", path, ec);
    if (!out || ec) {
      SLUICE_LOG_ERROR("local: {}: cannot write {}", key, path);
      return false;
    }
  }
  const int port = processes_.freePort();
  int dataPort = processes_.freePort();
  if (dataPort == port) dataPort = processes_.freePort();
  auto pid = processes_.spawn(
      {options_.runtimeBinary, "--config", path, "--control-bind-address", "127.0.0.1:" + std::to_string(port),
       "--data-bind-address", "127.0.0.1:" + std::to_string(dataPort), "--drain-grace",
       std::to_string(options_.drainGrace.count()), "--log-level", options_.logLevel},
      function.spec.env);
  if (!pid.isOk()) {
    SLUICE_LOG_ERROR("local: {}: starting {}: {}", key, options_.runtimeBinary, pid.status().toString());
    function.nextStartAllowed = now + options_.initialBackoff;
    return false;
  }
  Process p;
  p.pid = *pid;
  p.port = port;
  p.dataPort = dataPort;
  p.state = State::kStarting;
  p.function = key;
  p.configurationHash = function.configurationHash;
  p.startedAt = now;
  children_[p.pid] = p;
  SLUICE_LOG_INFO("local: {}: started replica {} (port {})", key, p.pid, port);
  return true;
}

void LocalPlatform::startWarmLocked(Clock::TimePoint now) {
  int warm = 0;
  for (const auto& [pid, p] : children_) {
    warm += p.state == State::kWarm || p.state == State::kWarmStarting ? 1 : 0;
  }
  for (; warm < options_.warmPoolSize; ++warm) {
    const int port = processes_.freePort();
    int dataPort = processes_.freePort();
    if (dataPort == port) dataPort = processes_.freePort();
    auto pid = processes_.spawn(
        {options_.runtimeBinary, "--warm", "--control-bind-address", "127.0.0.1:" + std::to_string(port),
         "--data-bind-address", "127.0.0.1:" + std::to_string(dataPort), "--drain-grace",
         std::to_string(options_.drainGrace.count()), "--log-level", options_.logLevel},
        {});
    if (!pid.isOk()) {
      SLUICE_LOG_ERROR("local: starting a warm runtime: {}", pid.status().toString());
      return;
    }
    Process p;
    p.pid = *pid;
    p.port = port;
    p.dataPort = dataPort;
    p.state = State::kWarmStarting;
    p.startedAt = now;
    children_[p.pid] = p;
  }
}

void LocalPlatform::publishLocked(Clock::TimePoint) {
  if (!registry_) return;
  std::map<std::string, std::array<int, 3>> byFunction;
  int warm = 0;
  for (const auto& [key, f] : functions_) {
    byFunction[key] = {0, 0, 0};
    desiredGauge_->Add({{"function", key}}).Set(f.spec.desired);
  }
  for (const auto& [pid, p] : children_) {
    if (p.state == State::kWarm) ++warm;
    if (p.state == State::kStarting) ++byFunction[p.function][0];
    if (p.state == State::kReady) ++byFunction[p.function][1];
    if (p.state == State::kDraining && !p.function.empty()) ++byFunction[p.function][2];
  }
  for (const auto& [key, n] : byFunction) {
    replicasGauge_->Add({{"function", key}, {"state", "starting"}}).Set(n[0]);
    replicasGauge_->Add({{"function", key}, {"state", "ready"}}).Set(n[1]);
    replicasGauge_->Add({{"function", key}, {"state", "draining"}}).Set(n[2]);
  }
  warmGauge_->Set(warm);
}

void LocalPlatform::shutdown() {
  std::unique_lock lock(mu_);
  for (auto& [pid, p] : children_) processes_.signal(pid, SIGTERM);
  // Real time, not the Clock: shutdown waits for real processes.
  const auto deadline = std::chrono::steady_clock::now() + options_.drainGrace + std::chrono::seconds(2);
  while (!children_.empty()) {
    for (const auto& [pid, code] : processes_.reapExited()) children_.erase(pid);
    if (children_.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (auto& [pid, p] : children_) processes_.signal(pid, SIGKILL);
      // After SIGKILL they go at once; reap what went.
      for (int i = 0; i < 50 && !children_.empty(); ++i) {
        for (const auto& [pid, code] : processes_.reapExited()) children_.erase(pid);
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        lock.lock();
      }
      break;
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    lock.lock();
  }
  SLUICE_LOG_INFO("local: every replica process stopped ({} left)", children_.size());
}

}  // namespace sluice::platform
