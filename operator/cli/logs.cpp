#include "cli/logs.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/pods.h"
#include "kube/api_error.h"

namespace sluice::cli {

namespace {

// `fromStart`: a pod that started after the command did is read whole, not from its tail.
std::string logPath(const std::string& ns, const std::string& pod, const LogsOptions& options, bool fromStart) {
  std::string path = kube::resources::kPods.path(ns, pod, "log") + "?container=runtime";
  if (options.tailLines >= 0 && !fromStart) path += "&tailLines=" + std::to_string(options.tailLines);
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
              const std::function<void(std::string_view)>& use, bool fromStart = false) {
  kube::HttpRequest request;
  request.pathAndQuery = logPath(ns, pod, options, fromStart);
  // A quiet replica logs nothing for long stretches: no idle limit while following.
  if (options.follow) request.idleTimeout = std::chrono::hours(24 * 365);
  auto lines = [&](std::string_view line) {
    eachLine(line, options, use);
    return !options.stop.stop_requested();
  };
  Result<kube::HttpResponse> response =
      options.follow ? transport.stream(request, lines, options.stop) : transport.send(request);
  if (!response.isOk()) return response.status().withContext("pod " + pod);
  if (response->status / 100 != 2) return kube::apiError(response->status, response->body).withContext("pod " + pod);
  if (!options.follow) eachLine(response->body, options, use);
  return Status::ok();
}

// The Function's replica pods, by label.
Result<std::vector<kube::Json>> replicaPods(kube::ResourceClient& client, const std::string& ns,
                                            const std::string& name) {
  kube::ListOptions list;
  list.labelSelector = std::string(api::kFunctionLabel) + "=" + name;
  auto pods = client.list(kube::resources::kPods, ns, list);
  if (!pods.isOk()) return pods.status().withContext("listing the pods of Function " + ns + "/" + name);
  return pods->value("items", kube::Json::array()).get<std::vector<kube::Json>>();
}

// What one run of a pod's container is known by: a replaced replica keeps its name but not its
// uid, and a restarted container is a new log under the same pod.
std::string runOf(const kube::Json& pod) {
  int restarts = 0;
  for (const kube::Json& c : pod.value("/status/containerStatuses"_json_pointer, kube::Json::array())) {
    if (c.value("name", "") == "runtime") restarts = c.value("restartCount", 0);
  }
  return pod.value("/metadata/uid"_json_pointer, pod.value("/metadata/name"_json_pointer, std::string())) + "/" +
         std::to_string(restarts);
}

Status followLogs(kube::ResourceClient& client, kube::Transport& transport, const std::string& ns,
                  const std::string& name, const LogsOptions& options,
                  const std::function<void(const std::string&, const std::string&)>& onLine,
                  const std::function<void(const Status&)>& onError) {
  std::mutex mu;
  std::set<std::string> followed;
  std::vector<std::jthread> streams;
  bool first = true;
  while (!options.stop.stop_requested()) {
    auto pods = replicaPods(client, ns, name);
    if (!pods.isOk()) return pods.status();
    for (const kube::Json& pod : *pods) {
      // A pending pod has no log yet; it is taken up on a later pass.
      if (pod.value("/status/phase"_json_pointer, std::string()) == "Pending") continue;
      if (!followed.insert(runOf(pod)).second) continue;
      const std::string podName = pod.value("/metadata/name"_json_pointer, std::string());
      streams.emplace_back([&, podName, fromStart = !first] {
        Status s = podLog(
            transport, ns, podName, options,
            [&](std::string_view line) {
              std::lock_guard lock(mu);
              onLine(podName, std::string(line));
            },
            fromStart);
        std::lock_guard lock(mu);
        if (!s.isOk() && onError && !options.stop.stop_requested()) onError(s);
      });
    }
    first = false;
    std::mutex wait;
    std::unique_lock lock(wait);
    std::condition_variable_any().wait_for(lock, options.stop, options.rescan, [] { return false; });
  }
  return Status::ok();
}

}  // namespace

Status functionLogs(kube::ResourceClient& client, kube::Transport& transport, const std::string& ns,
                    const std::string& name, const LogsOptions& options,
                    const std::function<void(const std::string&, const std::string&)>& onLine,
                    const std::function<void(const Status&)>& onError) {
  if (options.follow) return followLogs(client, transport, ns, name, options, onLine, onError);
  auto pods = replicaPods(client, ns, name);
  if (!pods.isOk()) return pods.status();
  if (pods->empty()) return Status(StatusCode::kNotFound, "Function " + ns + "/" + name + " has no replica pod");
  for (const kube::Json& pod : *pods) {
    const std::string podName = pod.value("/metadata/name"_json_pointer, std::string());
    Status s =
        podLog(transport, ns, podName, options, [&](std::string_view line) { onLine(podName, std::string(line)); });
    if (!s.isOk()) return s;
  }
  return Status::ok();
}

}  // namespace sluice::cli
