// `sluice describe NAME --prometheus URL`: the Function's replicas over the
// last hour. The operator's /metrics holds only the current counts
// (sluice_function_ready_replicas, sluice_function_desired_replicas:
// metrics/state_collector.h), so the history comes from the Prometheus that
// scrapes it: one query_range per series, max() over the operator's replicas
// (each reports the same caches), 61 points a minute apart ending now.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "http/http_client.h"

namespace sluice::cli {

// {url, stepSeconds: 60, ready: [61 counts, null where Prometheus has no
//  sample], desired: [...], readyMin, readyMax, readyNow (null when unknown)}.
// Errors name the Prometheus URL and its answer.
Result<nlohmann::json> replicaHistory(http::HttpClient& http, const std::string& prometheusUrl, const std::string& ns,
                                      const std::string& name, std::chrono::system_clock::time_point now);

// One line: "ready 0..3 (now 1), per minute ▁▁▃█▅..." ; "-" with the reason when unknown.
std::string historyText(const nlohmann::json& history);

}  // namespace sluice::cli
