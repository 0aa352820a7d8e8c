#include "scalers/replica_counters.h"

#include "scalers/prometheus_text.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

std::optional<ReplicaCounters> readReplicaCounters(const ReplicaCountersOptions& options, http::HttpClient& http) {
  if (!options.metricsUrls) return std::nullopt;
  ReplicaCounters counters;
  for (const std::string& url : options.metricsUrls()) {
    http::Request request;
    request.url = url;
    request.timeout = kHttpTimeout;
    request.tlsServerName = options.tlsServerName;
    Result<http::Response> response = http.send(request);
    if (!response.isOk() || response->status != 200) continue;  // a replica starting or leaving
    const std::optional<double> processed = sumPrometheusSamples(response->body, kProcessedSeries);
    const std::optional<double> busy = sumPrometheusSamples(response->body, kBusySecondsSeries);
    if (!processed || !busy) continue;  // a warm pod not yet specialized has no handler
    counters.processed += *processed;
    counters.busySeconds += *busy;
    ++counters.replicas;
  }
  if (counters.replicas == 0) return std::nullopt;
  return counters;
}

}  // namespace sluice::scalers
