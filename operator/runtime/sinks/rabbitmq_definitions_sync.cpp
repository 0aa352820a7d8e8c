#include "runtime/sinks/rabbitmq_definitions_sync.h"

#include <re2/re2.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/logging.h"

namespace sluice::runtime {

namespace {

using nlohmann::json;

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

std::string definitionsUrl(std::string base, const std::string& vhost) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/definitions/" + percentEncode(vhost);
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
  SLUICE_LOG_INFO("rabbitmq mirror: definitions synced to vhost {}: {} queue(s), {} exchange(s), {} binding(s)",
                  sync->options_.targetVhost, first->queues, first->exchanges, first->bindings);
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
  return counts;
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
