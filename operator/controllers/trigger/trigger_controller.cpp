#include "controllers/trigger/trigger_controller.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <cstring>
#include <map>

#include "api/conditions.h"
#include "common/time.h"
#include "controllers/secrets/secret_check.h"
#include "spec/function_triggers.h"
#include "spec/resources.h"

namespace sluice::controllers {

using nlohmann::json;

namespace {

constexpr auto kRecheck = std::chrono::minutes(1);
constexpr int kConnectTimeoutMs = 2000;
// Below the unreachable recheck (kSecretRecheck, 30 s), so each of those probes again.
constexpr auto kProbeFresh = std::chrono::seconds(20);

// host and port of "http(s)://host[:port]/..." or "host:port".
bool splitEndpoint(std::string text, std::string& host, int& port) {
  port = 0;
  if (auto scheme = text.find("://"); scheme != std::string::npos) {
    port = text.starts_with("https") ? 443 : 80;
    text = text.substr(scheme + 3);
  }
  text = text.substr(0, text.find('/'));
  if (auto at = text.rfind('@'); at != std::string::npos) text = text.substr(at + 1);
  if (!text.empty() && text.front() == '[') {  // [v6]:port
    auto close = text.find(']');
    if (close == std::string::npos) return false;
    if (close + 1 < text.size() && text[close + 1] == ':') port = std::atoi(text.c_str() + close + 2);
    text = text.substr(1, close - 1);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    port = std::atoi(text.c_str() + colon + 1);
    text = text.substr(0, colon);
  }
  host = text;
  return !host.empty() && port > 0 && port < 65536;
}

}  // namespace

Status tcpProbe(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return unavailable(where + ": " + gai_strerror(rc));
  }
  std::string lastError = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, kConnectTimeoutMs);
      if (rc == 0) {
        lastError = "connection timed out";
        rc = -1;
      } else if (rc > 0) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) lastError = std::strerror(error);
        rc = error == 0 ? 0 : -1;
      }
    } else if (rc != 0) {
      lastError = std::strerror(errno);
    }
    ::close(fd);
    if (rc == 0) {
      freeaddrinfo(found);
      return Status::ok();
    }
  }
  freeaddrinfo(found);
  return unavailable(where + ": " + lastError);
}

TriggerController::TriggerController(kube::ResourceClient& client, const kube::ObjectCache& triggers,
                                     const kube::ObjectCache& functions, Clock& clock, EndpointProbe probe,
                                     reconcile::EventRecorder* events, scalers::EndpointAllowList allowed)
    : client_(client),
      triggers_(triggers),
      functions_(functions),
      clock_(clock),
      probes_(std::move(probe), clock, kProbeFresh),
      allowed_(std::move(allowed)),
      events_(events) {}

std::string TriggerController::sourceType(const json& spec) { return api::v1alpha1::sourceTypeOf(spec); }

std::vector<std::string> TriggerController::secretNames(const json& spec) {
  return api::v1alpha1::referencedSecrets(spec);
}

std::vector<TriggerController::SecretKey> TriggerController::requiredSecretKeys(const json& spec) {
  return api::v1alpha1::requiredSecretKeys(spec);
}

std::vector<std::string> TriggerController::triggersOfFunction(const kube::ObjectCache& triggers,
                                                               const json& function) {
  std::vector<std::string> keys;
  const std::string ns = function.value("/metadata/namespace"_json_pointer, std::string("default"));
  const std::string name = function.value("/metadata/name"_json_pointer, std::string());
  for (const kube::ObjectPtr& t : spec::triggersOf(triggers, ns, name)) keys.push_back(kube::objectKey(*t));
  return keys;
}

std::vector<std::pair<std::string, std::string>> TriggerController::endpointsOf(const json& spec) {
  std::vector<std::pair<std::string, std::string>> endpoints;  // (field, endpoint)
  const std::string type = sourceType(spec);
  if (type == "kafka") {
    const json servers = spec["kafka"].value("bootstrapServers", json::array());
    for (size_t i = 0; i < servers.size(); ++i) {
      if (servers[i].is_string()) {
        endpoints.emplace_back("spec.kafka.bootstrapServers[" + std::to_string(i) + "]", servers[i]);
      }
    }
  } else if (type == "objectStore" && spec["objectStore"].contains("endpoint")) {
    endpoints.emplace_back("spec.objectStore.endpoint", spec["objectStore"]["endpoint"]);
  } else if (type == "prometheus" && spec["prometheus"].contains("serverAddress")) {
    endpoints.emplace_back("spec.prometheus.serverAddress", spec["prometheus"]["serverAddress"]);
  }
  return endpoints;
}

std::optional<std::string> TriggerController::reachability(const json& spec) const {
  const std::string type = sourceType(spec);
  if (type == "cron" || type == "http") return std::string();  // nothing outside the operator to reach
  const auto endpoints = endpointsOf(spec);
  if (endpoints.empty()) return std::nullopt;
  std::string errors;
  for (const auto& [field, endpoint] : endpoints) {
    std::string host;
    int port = 0;
    if (!splitEndpoint(endpoint, host, port)) return field + ": cannot tell host and port from \"" + endpoint + "\"";
    Status s = probes_.probe(host, port);
    if (s.isOk()) return std::string();  // one reachable broker is enough to bootstrap
    errors += (errors.empty() ? "" : "; ") + field + ": " + s.message();
  }
  return errors;
}

Status TriggerController::allowedToProbe(const json& spec) const {
  for (const auto& [field, endpoint] : endpointsOf(spec)) {
    if (Status s = allowed_.check(endpoint, field); !s.isOk()) return s;
  }
  return Status::ok();
}

Result<TriggerController::Readiness> TriggerController::readiness(const json& trigger) const {
  const json& spec = trigger.value("spec", json::object());
  const std::string ns = trigger["metadata"].value("namespace", "default");
  const std::string function = spec.value("/functionRef/name"_json_pointer, std::string());
  Readiness out;
  out.message = "function \"" + function + "\" and all referenced Secrets exist";
  if (!functions_.get(kube::objectKey(ns, function))) {
    out.reason = "FunctionNotFound";
    out.message = "function \"" + function + "\" does not exist in namespace " + ns;
    return out;
  }
  auto secrets = checkSecrets(client_, ns, secretNames(spec), requiredSecretKeys(spec));
  if (!secrets.isOk()) return secrets.status();
  if (!secrets->reason.empty()) {
    out.reason = secrets->reason;
    out.message = secrets->message;
    if (out.reason == "SecretNotFound") return out;
  }
  std::map<std::string, json>& found = secrets->found;
  if (Result<api::v1alpha1::Trigger> typed = api::v1alpha1::Trigger::fromJson(trigger); typed.isOk()) {
    for (const SecretKey& used : typed->scalerSecrets()) {
      out.scalerSecrets = true;
      std::string refusal = api::v1alpha1::scalerAccessRefusal(found[used.secret], ns, used.field);
      if (!refusal.empty()) out.scalerRefusals.push_back(std::move(refusal));
    }
  }
  return out;
}

json TriggerController::sourceReachable(const json& trigger, const std::string& now) const {
  const json& previous = trigger.value("/status/conditions"_json_pointer, json::array());
  const long long generation = trigger["metadata"].value("generation", 0LL);
  const json& spec = trigger.value("spec", json::object());
  // The operator connects only where its allow-list lets its scalers connect: a refused endpoint is not probed.
  if (Status allowed = allowedToProbe(spec); !allowed.isOk()) {
    return api::condition(previous, "SourceReachable", false, "EndpointNotAllowed", allowed.message(), generation, now);
  }
  std::optional<std::string> reach = reachability(spec);
  if (!reach) {
    json unknown = api::condition(previous, "SourceReachable", false, "NotChecked",
                                  "the operator cannot reach this source's endpoint itself", generation, now);
    unknown["status"] = "Unknown";
    return unknown;
  }
  return api::condition(previous, "SourceReachable", reach->empty(), reach->empty() ? "Reachable" : "Unreachable",
                        reach->empty() ? "the source's endpoint accepts connections" : *reach, generation, now);
}

json TriggerController::scalerCredentials(const json& trigger, const std::vector<std::string>& refusals,
                                          const std::string& now) const {
  const json& previous = trigger.value("/status/conditions"_json_pointer, json::array());
  const long long generation = trigger["metadata"].value("generation", 0LL);
  std::string refused;
  for (const std::string& r : refusals) refused += (refused.empty() ? "" : "; ") + r;
  json credentials =
      api::condition(previous, "ScalerCredentials", refused.empty(), refused.empty() ? "OptedIn" : "SecretNotOptedIn",
                     refused.empty() ? "every Secret the scaler reads carries the label " +
                                           std::string(api::v1alpha1::kScalerAccessKey) + "=\"true\""
                                     : refused,
                     generation, now);
  bool wasRefused = false;
  for (const json& c : previous) {
    wasRefused = wasRefused || (c.value("type", "") == "ScalerCredentials" && c.value("status", "") == "False" &&
                                c.value("message", "") == refused);
  }
  // Once per refusal, not once per recheck.
  if (!refused.empty() && !wasRefused && events_) events_->record(trigger, "Warning", "SecretNotOptedIn", refused);
  return credentials;
}

reconcile::ReconcileResult TriggerController::reconcile(const std::string& key) {
  kube::ObjectPtr cached = triggers_.get(key);
  if (!cached || cached->contains("/metadata/deletionTimestamp"_json_pointer))
    return reconcile::ReconcileResult::done();
  const json& trigger = *cached;
  const json& spec = trigger.value("spec", json::object());
  const long long generation = trigger["metadata"].value("generation", 0LL);
  const std::string now = rfc3339(clock_.wallNow());

  // Ready: the Function and every referenced Secret exist, and the source's endpoint (where the
  // operator can probe it) accepts connections.
  Result<Readiness> ready = readiness(trigger);
  if (!ready.isOk()) return reconcile::ReconcileResult::error(ready.status());
  const json& previous = trigger.value("/status/conditions"_json_pointer, json::array());
  json reachable = sourceReachable(trigger, now);
  const bool unreachable = reachable.value("reason", "") == "Unreachable";
  if (ready->reason.empty() && unreachable) {
    ready->reason = "SourceUnreachable";
    ready->message = "the source does not accept connections: " + reachable.value("message", "");
  }
  json conditions =
      json::array({api::condition(previous, "Ready", ready->reason.empty(),
                                  ready->reason.empty() ? "Ready" : ready->reason, ready->message, generation, now)});
  recordNotReady(trigger, previous, *ready);
  conditions.push_back(std::move(reachable));
  if (ready->scalerSecrets) conditions.push_back(scalerCredentials(trigger, ready->scalerRefusals, now));
  json status = {{"observedGeneration", generation}, {"sourceType", sourceType(spec)}, {"conditions", conditions}};
  json current = trigger.value("status", json::object());
  bool changed = false;
  for (const auto& [field, value] : status.items())
    changed = changed || !current.contains(field) || current[field] != value;
  if (changed) {
    kube::PatchOptions options;
    options.subresource = "status";
    auto patched = client_.patch(spec::kTriggers, trigger["metadata"].value("namespace", "default"),
                                 trigger["metadata"].value("name", ""), kube::PatchType::kMerge,
                                 json{{"status", status}}, options);
    if (!patched.isOk() && patched.status().code() != StatusCode::kNotFound) {
      return reconcile::ReconcileResult::error(patched.status());
    }
  }
  // What the user or the broker may fix any moment is looked at again sooner.
  const bool secretMissing = ready->reason == "SecretNotFound" || ready->reason == "SecretKeyMissing";
  return reconcile::ReconcileResult::requeueAfter(secretMissing || unreachable ? kSecretRecheck : kRecheck);
}

void TriggerController::recordNotReady(const json& trigger, const json& previous, const Readiness& ready) const {
  if (ready.reason.empty() || !events_) return;
  // Once per onset, not once per recheck.
  for (const json& c : previous) {
    if (c.value("type", "") == "Ready" && c.value("reason", "") == ready.reason &&
        c.value("message", "") == ready.message) {
      return;
    }
  }
  events_->record(trigger, "Warning", ready.reason, ready.message);
}

}  // namespace sluice::controllers
