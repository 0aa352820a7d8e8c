// Samples of one series in the Prometheus text format a replica's /metrics
// serves, for the scalers that read replicas (CPU, processed counters). One
// reader of the format: the value is the first field after the name and its
// labels (quoted label values may hold spaces or braces; a timestamp may follow).
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>

namespace sluice::scalers {

// The value of an unlabelled sample `name` in Prometheus text format, if present.
std::optional<double> findPrometheusSample(const std::string& text, const std::string& name);

// The sum of every sample of series `name` in Prometheus text format, labelled
// or not; empty when the text has none.
std::optional<double> sumPrometheusSamples(const std::string& text, const std::string& name);

}  // namespace sluice::scalers
