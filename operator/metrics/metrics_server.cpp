#include "metrics/metrics_server.h"

#include <algorithm>

#include "http/metrics_response.h"

namespace sluice::metrics {

MetricsServer::MetricsServer(std::string bindAddress)
    : bindAddress_(!bindAddress.empty() && bindAddress[0] == ':' ? "0.0.0.0" + bindAddress : std::move(bindAddress)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::add(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard lock(mu_);
  collectables_.push_back(std::move(collectable));
}

void MetricsServer::remove(const std::shared_ptr<prometheus::Collectable>& collectable) {
  std::lock_guard lock(mu_);
  collectables_.erase(std::remove(collectables_.begin(), collectables_.end(), collectable), collectables_.end());
}

http::ServerResponse MetricsServer::answer(const http::ServerRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path != "/metrics") return http::textResponse(404, "no such endpoint: " + path + "\n");
  if (request.method != "GET") return http::textResponse(405, "GET only\n");
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard lock(mu_);
    for (const auto& collectable : collectables_) {
      std::vector<prometheus::MetricFamily> collected = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(collected.begin()),
                      std::make_move_iterator(collected.end()));
    }
  }
  return http::metricsResponse(http::prometheusText(families));
}

Status MetricsServer::start() {
  // The server logs where it listens.
  auto server = http::startEndpointServer(bindAddress_, "metrics server",
                                          [this](const http::ServerRequest& request) { return answer(request); });
  if (server.isOk()) server_ = std::move(*server);
  return server.status();
}

int MetricsServer::port() const { return server_ ? server_->port() : 0; }

void MetricsServer::stop() {
  if (!server_) return;
  server_->stop(std::chrono::seconds(1));
  server_.reset();
}

}  // namespace sluice::metrics
