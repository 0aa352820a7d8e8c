// RabbitMqDefinitionsSync: keeps a RabbitMQ mirror's target vhost holding the
// queues (with their arguments), exchanges and bindings of the source vhost
// that `names` selects, through both brokers' management HTTP APIs: GET
// /api/definitions/<source vhost>, the selection (renamed by the mirror's
// prefix) POSTed to /api/definitions/<target vhost>, once at create() (so
// the mirror's first publish finds its exchange and queues) and then every
// interval on its own thread. Adds and updates; with `prune`, also deletes
// from the target what this object saw selected on the source and is gone
// from it (a queue only once it is empty on the target: its messages are the
// copies a failover needs). What was deleted on the source before this object
// first read it (a restart, a source rebuilt empty) is never pruned, so a
// mirror pointed at an empty source does not empty the target. The broker's
// own exchanges (amq.*, the default one) and Sluice's probation queues are
// never copied.
// syncOnce() may be called from any thread; the periodic thread is the only
// other caller.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "http/http_client.h"

namespace sluice::runtime {

struct RabbitMqDefinitionsSyncOptions {
  std::string sourceManagementUrl;  // http://user:password@host:15672 (basic auth from the user info)
  std::string sourceVhost;
  std::string targetManagementUrl;
  std::string targetVhost;
  std::vector<std::string> names;  // queue and exchange names; "^..." an RE2 pattern that must match the whole name
  std::string prefix;              // the mirror's rename prefix ("" keeps names)
  std::chrono::milliseconds interval{30'000};
  bool prune = false;
};

// What one sync declared (and, with prune, deleted from the target).
struct DefinitionCounts {
  size_t queues = 0;
  size_t exchanges = 0;
  size_t bindings = 0;
  size_t pruned = 0;
};

// The part of a vhost's exported definitions (`exported`: queues, exchanges,
// bindings) that `names` selects, renamed with `prefix`, as the body of a
// definitions import: a binding is copied when its source exchange and its
// destination are both selected. Pure.
nlohmann::json selectDefinitions(const nlohmann::json& exported, const std::vector<std::string>& names,
                                 const std::string& prefix, DefinitionCounts* counts = nullptr);

class RabbitMqDefinitionsSync {
 public:
  // Syncs once before returning (an error names the broker and the answer),
  // then starts the periodic thread.
  static Result<std::unique_ptr<RabbitMqDefinitionsSync>> create(RabbitMqDefinitionsSyncOptions options,
                                                                 std::shared_ptr<http::HttpClient> client);
  ~RabbitMqDefinitionsSync();
  RabbitMqDefinitionsSync(const RabbitMqDefinitionsSync&) = delete;
  RabbitMqDefinitionsSync& operator=(const RabbitMqDefinitionsSync&) = delete;

  Result<DefinitionCounts> syncOnce();

 private:
  RabbitMqDefinitionsSync(RabbitMqDefinitionsSyncOptions options, std::shared_ptr<http::HttpClient> client)
      : options_(std::move(options)), client_(std::move(client)) {}
  void run();
  // Deletes from the target what seen_ holds and `selection` (this round's
  // import body) no longer does; returns how many were deleted.
  Result<size_t> prune(const nlohmann::json& selection);
  Status deleteFromTarget(const std::string& kind, const nlohmann::json& entry);
  Status deleteBinding(const nlohmann::json& binding);

  RabbitMqDefinitionsSyncOptions options_;
  std::shared_ptr<http::HttpClient> client_;
  std::mutex syncMu_;  // one sync at a time
  // Target-side entries (queues, exchanges, bindings, as imported) selected on
  // the source in some round of this object; guarded by syncMu_.
  nlohmann::json seen_ = {{"queues", nlohmann::json::array()},
                          {"exchanges", nlohmann::json::array()},
                          {"bindings", nlohmann::json::array()}};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::runtime
