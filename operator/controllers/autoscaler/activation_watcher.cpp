#include "controllers/autoscaler/activation_watcher.h"

#include <set>

#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace sluice::controllers {

namespace {

// Beyond the time the gateway may hold a poll: its answer still has to travel.
constexpr auto kRequestSlack = std::chrono::seconds(5);

}  // namespace

std::string activationsUrlFor(const std::string& loadsUrl) {
  static const std::string kLoads = "/loads";
  if (loadsUrl.size() >= kLoads.size() && loadsUrl.compare(loadsUrl.size() - kLoads.size(), kLoads.size(), kLoads) == 0)
    return loadsUrl.substr(0, loadsUrl.size() - kLoads.size()) + "/activations";
  return loadsUrl;
}

ActivationWatcher::ActivationWatcher(ActivationWatcherOptions options, std::shared_ptr<http::HttpClient> http,
                                     Clock& clock, std::function<void(const std::string& key)> activate)
    : options_(std::move(options)), http_(std::move(http)), clock_(clock), activate_(std::move(activate)) {}

ActivationWatcher::~ActivationWatcher() { stop(); }

void ActivationWatcher::start() {
  refresher_ = std::jthread([this](std::stop_token stop) { refreshLoop(stop); });
}

void ActivationWatcher::stop() {
  refresher_ = std::jthread();
  std::map<std::string, Gateway> gateways;
  {
    std::lock_guard lock(mu_);
    gateways.swap(gateways_);
  }
  // Ask every poll to end first, then wait: the slowest one bounds the stop, not their sum.
  for (auto& [url, gateway] : gateways) gateway.thread.request_stop();
  gateways.clear();
}

std::size_t ActivationWatcher::gateways() const {
  std::lock_guard lock(mu_);
  return gateways_.size();
}

void ActivationWatcher::refreshLoop(std::stop_token stop) {
  do {
    refresh();
  } while (clock_.sleepFor(options_.refreshInterval, stop));
}

void ActivationWatcher::refresh() {
  std::set<std::string> wanted;
  for (const std::string& url : options_.gatewayLoadsUrls ? options_.gatewayLoadsUrls() : std::vector<std::string>{})
    wanted.insert(activationsUrlFor(url));
  std::map<std::string, Gateway> gone;
  {
    std::lock_guard lock(mu_);
    for (const std::string& url : wanted) {
      if (gateways_.count(url)) continue;
      gateways_[url].thread = std::jthread([this, url](std::stop_token stop) { watch(url, stop); });
    }
    for (auto it = gateways_.begin(); it != gateways_.end();) {
      if (wanted.count(it->first)) {
        ++it;
      } else {
        it->second.thread.request_stop();
        gone.insert(gateways_.extract(it++));
      }
    }
  }
  // Joined here, after the new gateways' polls started: a poll still open at a gone gateway holds only this.
}

void ActivationWatcher::watch(const std::string& url, std::stop_token stop) {
  std::string instance;
  uint64_t after = 0;
  auto backoff = options_.initialBackoff;
  bool failing = false;
  while (!stop.stop_requested()) {
    const std::string poll = url + "?instance=" + instance + "&after=" + std::to_string(after) +
                             "&waitSeconds=" + std::to_string(options_.waitSeconds.count());
    Result<http::Response> response = http::get(
        *http_, poll, std::chrono::duration_cast<std::chrono::milliseconds>(options_.waitSeconds + kRequestSlack));
    if (stop.stop_requested()) return;
    Status error;
    nlohmann::json answer;
    if (!response.isOk()) {
      error = response.status();
    } else if (response->status != 200) {
      error = http::statusError(*response, "gateway activations " + url);
    } else {
      answer = nlohmann::json::parse(response->body, nullptr, false);
      if (!answer.is_object() || !answer.contains("instance") || !answer["instance"].is_string() ||
          !answer.contains("sequence") || !answer["sequence"].is_number_unsigned() || !answer.contains("functions") ||
          !answer["functions"].is_array())
        error = invalidArgument("gateway activations " + url + ": not an {instance, sequence, functions} document");
    }
    if (!error.isOk()) {
      // A gateway restarting or gone: the Endpoints will say; the fallback poll still measures.
      if (!failing) SLUICE_LOG_WARN("autoscaler: activation feed {}: {}; retrying", url, error.toString());
      failing = true;
      if (!clock_.sleepFor(backoff, stop)) return;
      backoff = std::min(backoff * 2, options_.maxBackoff);
      continue;
    }
    if (failing) SLUICE_LOG_INFO("autoscaler: activation feed {}: answering again", url);
    failing = false;
    backoff = options_.initialBackoff;
    ++answers_;
    const std::string answeredInstance = answer["instance"].get<std::string>();
    if (!instance.empty() && answeredInstance != instance)
      SLUICE_LOG_INFO("autoscaler: activation feed {}: a new gateway instance; taking the Functions waiting there",
                      url);
    instance = answeredInstance;
    after = answer["sequence"].get<uint64_t>();
    for (const nlohmann::json& function : answer["functions"]) {
      if (!function.is_object()) continue;
      const std::string ns = function.value("namespace", std::string());
      const std::string name = function.value("name", std::string());
      if (ns.empty() || name.empty()) continue;
      SLUICE_LOG_DEBUG("autoscaler: {}/{}: a request waits at gateway {} with no replica", ns, name, url);
      activate_(ns + "/" + name);
    }
  }
}

}  // namespace sluice::controllers
