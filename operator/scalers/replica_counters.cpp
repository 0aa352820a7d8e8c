#include "scalers/replica_counters.h"

#include <sstream>

#include "scalers/scaler.h"

namespace sluice::scalers {

std::optional<double> sumPrometheusSamples(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::optional<double> sum;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
    if (line.size() <= name.size() || (line[name.size()] != ' ' && line[name.size()] != '{')) continue;
    // The value follows the labels (which may hold spaces in quoted values): the last field.
    const size_t space = line.find_last_of(' ');
    try {
      sum = sum.value_or(0) + std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      continue;
    }
  }
  return sum;
}

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
