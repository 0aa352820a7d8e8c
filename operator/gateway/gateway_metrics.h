// GatewayMetrics: the gateway's Prometheus series.
//   sluice_gateway_requests_total{namespace,function,code}   answered requests by status
//   sluice_gateway_request_duration_seconds{namespace,function}  from read to answer
//   sluice_gateway_pending_requests{namespace,function}      queued, waiting for a replica
//   sluice_gateway_in_flight_requests{namespace,function}    sent to a replica, not answered
//   sluice_gateway_ready_replicas{namespace,function}        replicas the gateway routes to
// The last three are read from the Dispatcher at scrape time. The series a
// request adds to are looked up once per Function and status and kept (a
// Family finds a child by hashing a label map it is given, built each time).
// Thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/dispatcher.h"

namespace sluice::gateway {

class GatewayMetrics {
 public:
  GatewayMetrics(std::shared_ptr<prometheus::Registry> registry, const Dispatcher& dispatcher);
  ~GatewayMetrics();

  void observe(const std::string& ns, const std::string& function, int status, double seconds);
  // The scrape-time gauges, for the serializer beside the registry.
  std::shared_ptr<prometheus::Collectable> collector() const;

 private:
  class LoadCollector;
  // One Function's series: its duration histogram and its counter per status seen.
  struct Series {
    prometheus::Histogram* duration = nullptr;
    std::vector<std::pair<int, prometheus::Counter*>> requests;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<LoadCollector> loads_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  std::mutex mu_;
  std::unordered_map<std::string, Series> series_;  // by "namespace/function"; guarded by mu_
};

}  // namespace sluice::gateway
