// ReplicaCounters: the replicas' own throughput counters for the rate policy
// (autoscaler::RateEstimator): events processed and the seconds their handlers
// ran, summed over the replicas that answer on their metrics URL. A sum, not
// per replica, stays meaningful as replicas come and go: a replica's counters
// enter and leave both sums together, so processed / busy seconds stays a
// rate of work actually done, and a drop (a replica gone or restarted) is a
// reset the estimator starts afresh from.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace sluice::scalers {

struct ReplicaCounters {
  double processed = 0;
  double busySeconds = 0;
  int replicas = 0;  // replicas that answered
};

// The runtime's series the counters come from.
inline constexpr const char* kProcessedSeries = "sluice_runtime_events_processed_total";
inline constexpr const char* kBusySecondsSeries = "sluice_runtime_handler_duration_seconds_sum";

struct ReplicaCountersOptions {
  // The replicas' metrics URLs, asked again every read (replicas come and go).
  std::function<std::vector<std::string>()> metricsUrls;
  // The name an https URL's certificate must carry.
  std::string tlsServerName;
};

// One read of every replica; empty when none answered with both series.
std::optional<ReplicaCounters> readReplicaCounters(const ReplicaCountersOptions& options, http::HttpClient& http);

}  // namespace sluice::scalers
