#include "runtime/sinks/rabbitmq_definitions_sync.h"

#include <re2/re2.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/logging.h"

namespace sluice::runtime {

namespace {

using nlohmann::json;
using HttpClientResult = Result<http::Response>;

bool selected(const std::string& name, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [&name](const std::string& entry) {
    return entry == name || (!entry.empty() && entry[0] == '^' && RE2::FullMatch(name, entry));
  });
}

// The broker's own exchanges exist on every vhost and cannot be declared.
bool isBrokerExchange(const std::string& name) { return name.empty() || name.rfind("amq.", 0) == 0; }

// A replica's probation queue belongs to the source side's consumers.
bool isProbationQueue(const std::string& name) {
  static const std::string kSuffix = ".sluice-probation";
  return name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// `entry` without its vhost (the import names the target's), renamed.
json renamed(json entry, const std::string& field, const std::string& prefix) {
  entry.erase("vhost");
  if (!prefix.empty()) entry[field] = prefix + entry.value(field, "");
  return entry;
}

const json& listOf(const json& exported, const char* key) {
  static const json kNone = json::array();
  auto it = exported.find(key);
  return it != exported.end() && it->is_array() ? *it : kNone;
}

// `path` (already encoded) under the management API at `base`.
std::string apiUrl(std::string base, const std::string& path) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/" + path;
}

std::string definitionsUrl(const std::string& base, const std::string& vhost) {
  return apiUrl(base, "definitions/" + percentEncode(vhost));
}

// Whether two entries of a definitions list (`kind`) name the same object:
// queues and exchanges by name, bindings by their ends, key and arguments.
bool sameObject(const std::string& kind, const json& a, const json& b) {
  if (kind != "bindings") return a.value("name", "") == b.value("name", "");
  for (const char* field : {"source", "destination", "destination_type", "routing_key"}) {
    if (a.value(field, "") != b.value(field, "")) return false;
  }
  return a.value("arguments", json::object()) == b.value("arguments", json::object());
}

bool listed(const std::string& kind, const json& list, const json& entry) {
  return std::any_of(list.begin(), list.end(), [&](const json& other) { return sameObject(kind, entry, other); });
}

// A DELETE answered 2xx, or 404 (already gone: another replica, or a person, was first).
Status deleted(HttpClientResult answer, const std::string& what) {
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status / 100 == 2 || answer->status == 404) return Status::ok();
  return http::statusError(*answer, what);
}

}  // namespace

json selectDefinitions(const json& exported, const std::vector<std::string>& names, const std::string& prefix,
                       DefinitionCounts* counts) {
  json out = {{"queues", json::array()}, {"exchanges", json::array()}, {"bindings", json::array()}};
  std::vector<std::string> queues;
  std::vector<std::string> exchanges;
  for (const json& queue : listOf(exported, "queues")) {
    const std::string name = queue.value("name", "");
    if (!selected(name, names) || isProbationQueue(name)) continue;
    queues.push_back(name);
    out["queues"].push_back(renamed(queue, "name", prefix));
  }
  for (const json& exchange : listOf(exported, "exchanges")) {
    const std::string name = exchange.value("name", "");
    if (!selected(name, names) || isBrokerExchange(name)) continue;
    exchanges.push_back(name);
    out["exchanges"].push_back(renamed(exchange, "name", prefix));
  }
  auto has = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (const json& binding : listOf(exported, "bindings")) {
    const std::string destination = binding.value("destination", "");
    const bool toQueue = binding.value("destination_type", "queue") == "queue";
    if (!has(exchanges, binding.value("source", "")) || !has(toQueue ? queues : exchanges, destination)) continue;
    out["bindings"].push_back(renamed(renamed(binding, "source", prefix), "destination", prefix));
  }
  if (counts != nullptr) {
    *counts = DefinitionCounts{out["queues"].size(), out["exchanges"].size(), out["bindings"].size()};
  }
  return out;
}

Result<std::unique_ptr<RabbitMqDefinitionsSync>> RabbitMqDefinitionsSync::create(
    RabbitMqDefinitionsSyncOptions options, std::shared_ptr<http::HttpClient> client) {
  std::unique_ptr<RabbitMqDefinitionsSync> sync(new RabbitMqDefinitionsSync(std::move(options), std::move(client)));
  auto first = sync->syncOnce();
  if (!first.isOk()) return first.status();
  SLUICE_LOG_INFO("rabbitmq mirror: definitions synced to vhost {}: {} queue(s), {} exchange(s), {} binding(s){}",
                  sync->options_.targetVhost, first->queues, first->exchanges, first->bindings,
                  sync->options_.prune ? " (pruning what the source deletes from now on)" : "");
  sync->thread_ = std::thread([raw = sync.get()] { raw->run(); });
  return sync;
}

RabbitMqDefinitionsSync::~RabbitMqDefinitionsSync() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<DefinitionCounts> RabbitMqDefinitionsSync::syncOnce() {
  std::lock_guard guard(syncMu_);
  const std::string from = definitionsUrl(options_.sourceManagementUrl, options_.sourceVhost);
  const std::string what = "rabbitmq mirror definitions: reading " + http::withoutUserInfo(from);
  auto exported = http::get(*client_, from, std::chrono::seconds(10));
  if (!exported.isOk()) return exported.status().withContext(what);
  if (exported->status != 200) return http::statusError(*exported, what);
  DefinitionCounts counts;
  json body;
  try {
    body = selectDefinitions(json::parse(exported->body), options_.names, options_.prefix, &counts);
  } catch (const json::exception& e) {
    return internalError(what + ": bad management API answer: " + e.what());
  }
  http::Request request;
  request.method = "POST";
  request.url = definitionsUrl(options_.targetManagementUrl, options_.targetVhost);
  request.headers = {{"Content-Type", "application/json"}};
  request.body = body.dump();
  request.timeout = std::chrono::seconds(30);
  const std::string written = "rabbitmq mirror definitions: importing into " + http::withoutUserInfo(request.url);
  auto imported = client_->send(request);
  if (!imported.isOk()) return imported.status().withContext(written);
  if (imported->status / 100 != 2) return http::statusError(*imported, written);
  if (!options_.prune) return counts;
  auto pruned = prune(body);
  if (!pruned.isOk()) return pruned.status();
  counts.pruned = *pruned;
  return counts;
}

Result<size_t> RabbitMqDefinitionsSync::prune(const json& selection) {
  size_t count = 0;
  // Bindings first, queues last: a queue kept because it still holds messages keeps no stale binding.
  for (const std::string kind : {"bindings", "exchanges", "queues"}) {
    json stillSeen = selection[kind];
    for (const json& entry : seen_[kind]) {
      if (listed(kind, selection[kind], entry)) continue;
      Status gone = kind == "bindings" ? deleteBinding(entry) : deleteFromTarget(kind, entry);
      if (gone.isOk()) {
        ++count;
        continue;
      }
      // Tried again next round (a queue still holding copies stays until they are consumed).
      SLUICE_LOG_WARN("{}; kept on the target for now", gone.toString());
      stillSeen.push_back(entry);
    }
    seen_[kind] = std::move(stillSeen);
  }
  if (count > 0) SLUICE_LOG_INFO("rabbitmq mirror: pruned {} definition(s) gone from the source", count);
  return count;
}

Status RabbitMqDefinitionsSync::deleteFromTarget(const std::string& kind, const json& entry) {
  http::Request request;
  request.method = "DELETE";
  request.url = apiUrl(options_.targetManagementUrl,
                       kind + "/" + percentEncode(options_.targetVhost) + "/" + percentEncode(entry.value("name", "")));
  // Only an empty queue: its messages on the target are what a failover would read.
  if (kind == "queues") request.url += "?if-empty=true";
  request.timeout = std::chrono::seconds(10);
  const std::string what = "rabbitmq mirror definitions: pruning " + http::withoutUserInfo(request.url);
  return deleted(client_->send(request), what);
}

// The management API deletes a binding by its "properties key", which the
// broker derives from the routing key and arguments: read it from the target.
Status RabbitMqDefinitionsSync::deleteBinding(const json& binding) {
  const std::string path = "bindings/" + percentEncode(options_.targetVhost) + "/e/" +
                           percentEncode(binding.value("source", "")) + "/" +
                           (binding.value("destination_type", "queue") == "queue" ? "q/" : "e/") +
                           percentEncode(binding.value("destination", ""));
  const std::string url = apiUrl(options_.targetManagementUrl, path);
  const std::string what = "rabbitmq mirror definitions: pruning a binding at " + http::withoutUserInfo(url);
  auto listedOnTarget = http::get(*client_, url, std::chrono::seconds(10));
  if (!listedOnTarget.isOk()) return listedOnTarget.status().withContext(what);
  if (listedOnTarget->status == 404) return Status::ok();  // an end is gone, and the binding with it
  if (listedOnTarget->status != 200) return http::statusError(*listedOnTarget, what);
  json bindings = json::parse(listedOnTarget->body, nullptr, false);
  if (!bindings.is_array()) return internalError(what + ": bad management API answer");
  for (const json& candidate : bindings) {
    if (!candidate.is_object() || !sameObject("bindings", binding, candidate)) continue;
    http::Request request;
    request.method = "DELETE";
    request.url = url + "/" + percentEncode(candidate.value("properties_key", ""));
    request.timeout = std::chrono::seconds(10);
    if (Status status = deleted(client_->send(request), what); !status.isOk()) return status;
  }
  return Status::ok();
}

void RabbitMqDefinitionsSync::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, options_.interval, [this] { return stop_; })) return;
    }
    auto synced = syncOnce();
    // A failed round changes nothing on the target; the next one tries again.
    if (!synced.isOk()) SLUICE_LOG_WARN("{}; retrying in {} ms", synced.status().toString(), options_.interval.count());
  }
}

}  // namespace sluice::runtime
