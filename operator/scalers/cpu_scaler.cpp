#include "scalers/cpu_scaler.h"

#include <sstream>

namespace sluice::scalers {

std::optional<double> findPrometheusSample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size() || line[name.size()] != ' ') continue;
    try {
      return std::stod(line.substr(name.size() + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Result<ScalerReading> RuntimeCpuScaler::read() {
  const Clock::TimePoint now = clock_.now();
  std::map<std::string, Sample> current;
  double sum = 0;
  int compared = 0;
  const std::vector<std::string> urls = options_.metricsUrls ? options_.metricsUrls() : std::vector<std::string>{};
  // No replica, no CPU in use: a reading of 0, not an error (which would count towards fallback).
  if (urls.empty()) {
    previous_.clear();
    return ScalerReading{};
  }
  for (const std::string& url : urls) {
    Result<HttpResponse> response = http_->get(url);
    if (!response.isOk() || response->status != 200) continue;  // a replica starting or leaving
    std::optional<double> cpu = findPrometheusSample(response->body, "process_cpu_seconds_total");
    if (!cpu) return notFound("cpu of " + url + ": no process_cpu_seconds_total sample");
    current[url] = {now, *cpu};
    auto before = previous_.find(url);
    if (before == previous_.end()) continue;
    double wall = std::chrono::duration<double>(now - before->second.at).count();
    if (wall <= 0) continue;
    sum += (*cpu - before->second.cpuSeconds) / wall / options_.requestedCores * 100.0;
    ++compared;
  }
  previous_ = std::move(current);
  if (compared == 0) return unavailable("cpu: no replica has two samples yet");
  ScalerReading reading;
  reading.value = sum / compared;
  reading.active = reading.value > 0;
  return reading;
}

}  // namespace sluice::scalers
