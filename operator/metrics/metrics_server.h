// MetricsServer: the operator's /metrics (--metrics-bind-address) on Sluice's
// one HTTP server (http/http_server.h), answered as the gateway's and the
// runtime's are (http/metrics_response.h). A scrape collects every
// collectable added so far, in the order added.
// start()/stop() from one thread; add()/remove() from any thread, remove()
// waiting out a scrape in progress (so a collector reading caches can be
// detached before the caches go).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "common/status.h"
#include "http/http_server.h"

namespace sluice::metrics {

class MetricsServer {
 public:
  // bindAddress: "host:port" (":port" listens on every interface).
  explicit MetricsServer(std::string bindAddress);
  ~MetricsServer();

  Status start();
  void stop();
  // The bound port (after start()).
  int port() const;

  void add(std::shared_ptr<prometheus::Collectable> collectable);
  void remove(const std::shared_ptr<prometheus::Collectable>& collectable);

 private:
  http::ServerResponse answer(const http::ServerRequest& request);

  std::string bindAddress_;
  std::mutex mu_;  // guards collectables_; held through a scrape
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace sluice::metrics
