#include "cli/history.h"

#include <algorithm>
#include <cmath>

#include "common/encoding.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

constexpr int kStepSeconds = 60;
constexpr int kPoints = 61;

// The series' values at each of the kPoints steps ending at `end` (null where there is no sample).
Result<json> queryRange(http::HttpClient& http, const std::string& base, const std::string& query, int64_t end) {
  http::Request request;
  request.url = base + "/api/v1/query_range?query=" + percentEncode(query) +
                "&start=" + std::to_string(end - (kPoints - 1) * kStepSeconds) + "&end=" + std::to_string(end) +
                "&step=" + std::to_string(kStepSeconds);
  request.timeout = std::chrono::seconds(10);
  request.maxResponseBytes = 1 << 20;
  auto response = http.send(request);
  const std::string where = "--prometheus " + base;
  if (!response.isOk()) return response.status().withContext(where);
  json body = json::parse(response->body, nullptr, false);
  if (response->status != 200 || body.is_discarded() || body.value("status", "") != "success") {
    const std::string reason = body.is_object() ? body.value("error", "") : "";
    return Status(StatusCode::kUnavailable,
                  where + ": HTTP " + std::to_string(response->status) + (reason.empty() ? "" : ": " + reason));
  }
  json points = json::array();
  for (int i = 0; i < kPoints; ++i) points.push_back(nullptr);
  const json& result = body["data"].value("result", json::array());
  if (result.empty()) return points;
  for (const json& sample : result[0].value("values", json::array())) {
    const int64_t at = static_cast<int64_t>(sample[0].get<double>());
    const int64_t index = (at - (end - (kPoints - 1) * kStepSeconds)) / kStepSeconds;
    if (index < 0 || index >= kPoints) continue;
    points[index] = static_cast<int64_t>(std::llround(std::stod(sample[1].get<std::string>())));
  }
  return points;
}

}  // namespace

Result<json> replicaHistory(http::HttpClient& http, const std::string& prometheusUrl, const std::string& ns,
                            const std::string& name, std::chrono::system_clock::time_point now) {
  std::string base = prometheusUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const int64_t end = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string selector = "{function=\"" + ns + "/" + name + "\"}";
  auto ready = queryRange(http, base, "max(sluice_function_ready_replicas" + selector + ")", end);
  if (!ready.isOk()) return ready.status();
  auto desired = queryRange(http, base, "max(sluice_function_desired_replicas" + selector + ")", end);
  if (!desired.isOk()) return desired.status();
  json out = {{"url", base},         {"stepSeconds", kStepSeconds}, {"ready", *ready},          {"desired", *desired},
              {"readyMin", nullptr}, {"readyMax", nullptr},         {"readyNow", ready->back()}};
  for (const json& v : *ready) {
    if (v.is_null()) continue;
    out["readyMin"] = out["readyMin"].is_null() ? v : json(std::min(out["readyMin"].get<int64_t>(), v.get<int64_t>()));
    out["readyMax"] = out["readyMax"].is_null() ? v : json(std::max(out["readyMax"].get<int64_t>(), v.get<int64_t>()));
  }
  return out;
}

std::string historyText(const json& history) {
  if (history.contains("error")) return "- (" + history["error"].get<std::string>() + ")";
  if (history["readyMax"].is_null()) return "- (Prometheus has no sample of this Function in the last hour)";
  static const char* kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const int64_t max = history["readyMax"].get<int64_t>();
  std::string bars;
  for (const json& v : history["ready"]) {
    if (v.is_null()) {
      bars += " ";
      continue;
    }
    bars += max == 0 ? kBars[0] : kBars[std::min<int64_t>(7, v.get<int64_t>() * 7 / max)];
  }
  auto shown = [](const json& v) { return v.is_null() ? std::string("-") : v.dump(); };
  return "ready " + history["readyMin"].dump() + ".." + history["readyMax"].dump() + " (now " +
         shown(history["readyNow"]) + "), per minute " + bars;
}

}  // namespace sluice::cli
