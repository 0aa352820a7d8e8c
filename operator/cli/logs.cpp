#include "cli/logs.h"

#include <mutex>
#include <thread>
#include <vector>

#include "api/pods.h"
#include "kube/api_error.h"

namespace sluice::cli {

namespace {

std::string logPath(const std::string& ns, const std::string& pod, const LogsOptions& options) {
  std::string path = kube::resources::kPods.path(ns, pod, "log") + "?container=runtime";
  if (options.tailLines >= 0) path += "&tailLines=" + std::to_string(options.tailLines);
  if (options.follow) path += "&follow=true";
  return path;
}

// Each line of `text` (without its newline) that passes the filter.
void eachLine(std::string_view text, const LogsOptions& options, const std::function<void(std::string_view)>& use) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (options.requestId.empty() || line.find(options.requestId) != std::string_view::npos) use(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// One pod's log, whole or followed; an error names the pod.
Status podLog(kube::Transport& transport, const std::string& ns, const std::string& pod, const LogsOptions& options,
              const std::function<void(std::string_view)>& use) {
  kube::HttpRequest request;
  request.pathAndQuery = logPath(ns, pod, options);
  // A quiet replica logs nothing for long stretches: no idle limit while following.
  if (options.follow) request.idleTimeout = std::chrono::hours(24 * 365);
  auto lines = [&](std::string_view line) {
    eachLine(line, options, use);
    return true;
  };
  Result<kube::HttpResponse> response =
      options.follow ? transport.stream(request, lines, std::stop_token()) : transport.send(request);
  if (!response.isOk()) return response.status().withContext("pod " + pod);
  if (response->status / 100 != 2) return kube::apiError(response->status, response->body).withContext("pod " + pod);
  if (!options.follow) eachLine(response->body, options, use);
  return Status::ok();
}

}  // namespace

Status functionLogs(kube::ResourceClient& client, kube::Transport& transport, const std::string& ns,
                    const std::string& name, const LogsOptions& options,
                    const std::function<void(const std::string&, const std::string&)>& onLine) {
  kube::ListOptions list;
  list.labelSelector = std::string(api::kFunctionLabel) + "=" + name;
  auto pods = client.list(kube::resources::kPods, ns, list);
  if (!pods.isOk()) return pods.status().withContext("listing the pods of Function " + ns + "/" + name);
  std::vector<std::string> names;
  for (const auto& pod : pods->value("items", kube::Json::array())) {
    names.push_back(pod.value("/metadata/name"_json_pointer, std::string()));
  }
  if (names.empty()) return Status(StatusCode::kNotFound, "Function " + ns + "/" + name + " has no replica pod");
  std::mutex mu;
  std::vector<Status> results(names.size());
  auto read = [&](size_t i) {
    results[i] = podLog(transport, ns, names[i], options, [&](std::string_view line) {
      std::lock_guard lock(mu);
      onLine(names[i], std::string(line));
    });
  };
  if (!options.follow) {
    for (size_t i = 0; i < names.size(); ++i) read(i);
  } else {
    std::vector<std::jthread> streams;
    for (size_t i = 0; i < names.size(); ++i) streams.emplace_back(read, i);
  }
  for (const Status& result : results) {
    if (!result.isOk()) return result;
  }
  return Status::ok();
}

}  // namespace sluice::cli
