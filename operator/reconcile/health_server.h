// HealthServer: the operator's /healthz and /readyz for the kubelet's probes,
// as controller-runtime's health probe endpoint, on Sluice's one HTTP server
// (http/http_server.h). /healthz answers 200 while the process serves
// requests; /readyz answers 200 while `notReadyReason` returns "" and 503 with
// the reason otherwise. Every replica is ready, leader or standby: a standby
// keeps warm caches and takes over on its own.
// start()/stop() from one thread; the callback runs on the server's threads.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/http_server.h"

namespace sluice::reconcile {

class HealthServer {
 public:
  // bindAddress: "host:port" (":port" listens on every interface).
  HealthServer(std::string bindAddress, std::function<std::string()> notReadyReason = nullptr);
  ~HealthServer();

  Status start();
  void stop();

 private:
  http::ServerResponse answer(const http::ServerRequest& request) const;

  std::string bindAddress_;
  std::function<std::string()> notReadyReason_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace sluice::reconcile
