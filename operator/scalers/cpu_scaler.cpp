#include "scalers/cpu_scaler.h"

#include <map>

#include "common/logging.h"
#include "scalers/prometheus_text.h"

namespace sluice::scalers {

Result<double> parseCpuQuantity(const std::string& text, bool allowZero) {
  double scale = 1;
  std::string number = text;
  if (!number.empty()) {
    switch (number.back()) {
      case 'm': scale = 1e-3; break;
      case 'u': scale = 1e-6; break;
      case 'n': scale = 1e-9; break;
      default: break;
    }
    if (scale != 1) number.pop_back();
  }
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (number.empty() || used != number.size() || !(value > 0 || (allowZero && value == 0))) {
    return invalidArgument("\"" + text + "\" is not a " + (allowZero ? "" : "positive ") +
                           "CPU quantity such as 500m or 2");
  }
  return value * scale;
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
    http::Request request;
    request.url = url;
    request.timeout = kHttpTimeout;
    request.tlsServerName = options_.tlsServerName;
    Result<http::Response> response = http_->send(request);
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

Result<ScalerReading> MetricsApiCpuScaler::read() {
  const Clock::TimePoint now = clock_.now();
  if (absentSince_ && now - *absentSince_ < options_.absentRecheck) return fallback_->read();
  const std::vector<std::string> pods = options_.readyPods ? options_.readyPods() : std::vector<std::string>{};
  if (pods.empty()) return ScalerReading{};  // no replica, no CPU in use (see RuntimeCpuScaler)
  kube::ListOptions selector;
  selector.labelSelector = options_.labelSelector;
  Result<kube::Json> list = client_.list(kPodMetrics, options_.ns, selector);
  if (list.status().code() == StatusCode::kNotFound) {
    if (!absentSince_) SLUICE_LOG_INFO("cpu: metrics.k8s.io is not served here; reading the replicas' own metrics");
    absentSince_ = now;
    return fallback_->read();
  }
  absentSince_.reset();
  if (!list.isOk()) return list.status().withContext("cpu: metrics.k8s.io");
  std::map<std::string, double> usage;  // pod -> cores
  for (const kube::Json& item : list->value("items", kube::Json::array())) {
    double cores = 0;
    for (const kube::Json& container : item.value("containers", kube::Json::array())) {
      const std::string text = container.value("/usage/cpu"_json_pointer, std::string("0"));
      Result<double> parsed = parseCpuQuantity(text, /*allowZero=*/true);
      if (!parsed.isOk()) return parsed.status().withContext("cpu: metrics.k8s.io usage");
      cores += *parsed;
    }
    usage[item.value("/metadata/name"_json_pointer, std::string())] = cores;
  }
  double sum = 0;
  int measured = 0;
  for (const std::string& pod : pods) {
    auto it = usage.find(pod);
    if (it == usage.end()) continue;  // not scraped by metrics-server yet
    sum += it->second / options_.requestedCores * 100.0;
    ++measured;
  }
  if (measured == 0) return unavailable("cpu: metrics.k8s.io has no PodMetrics for the Ready replicas yet");
  ScalerReading reading;
  reading.value = sum / measured;
  reading.active = reading.value > 0;
  return reading;
}

}  // namespace sluice::scalers
