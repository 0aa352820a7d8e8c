// ActivationWatcher: the operator's end of the gateways' activation feed
// (operator/gateway/activation_feed.h). For every gateway replica it keeps one
// long poll of GET /activations open (the replica's /loads URL with
// /activations in place of /loads) and hands each Function named in an answer
// to `activate` (the autoscaler wakes it and enqueues it: a request at zero is
// measured within milliseconds, not at the next at-zero poll, which stays as
// the fallback). It passes each answer's instance and sequence to the next
// call, so nothing is told twice and a restarted gateway (a new instance)
// answers with the Functions waiting there now. A gateway that does not answer
// is asked again after a backoff (doubling up to maxBackoff, reset by an
// answer). The set of gateways is read again every refreshInterval (they come
// and go with the Service's Endpoints).
// Thread-safety: start()/stop() from one thread; `activate` runs on the
// watcher's threads, never after stop() returned. stop() waits for the open
// polls to end: at most waitSeconds plus the request slack.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "http/http_client.h"

namespace sluice::controllers {

struct ActivationWatcherOptions {
  // The /loads URLs of the gateway replicas (as the http scaler reads them).
  std::function<std::vector<std::string>()> gatewayLoadsUrls;
  std::chrono::seconds waitSeconds{10};  // how long one poll may be held open
  std::chrono::milliseconds initialBackoff{100};
  std::chrono::milliseconds maxBackoff{5'000};
  std::chrono::milliseconds refreshInterval{1'000};
};

class ActivationWatcher {
 public:
  ActivationWatcher(ActivationWatcherOptions options, std::shared_ptr<http::HttpClient> http, Clock& clock,
                    std::function<void(const std::string& key)> activate);
  ~ActivationWatcher();

  void start();
  void stop();

  // Answers taken from the gateways (tests, debugging).
  uint64_t answers() const { return answers_.load(); }
  // Gateways polled now.
  std::size_t gateways() const;

 private:
  struct Gateway {
    std::jthread thread;
  };
  void refreshLoop(std::stop_token stop);
  void refresh();
  void watch(const std::string& url, std::stop_token stop);

  const ActivationWatcherOptions options_;
  std::shared_ptr<http::HttpClient> http_;
  Clock& clock_;
  std::function<void(const std::string&)> activate_;
  mutable std::mutex mu_;
  std::map<std::string, Gateway> gateways_;  // by /activations URL; guarded by mu_
  std::jthread refresher_;
  std::atomic<uint64_t> answers_{0};
};

// The /activations URL beside a gateway's /loads URL (the URL itself when it does not end in /loads).
std::string activationsUrlFor(const std::string& loadsUrl);

}  // namespace sluice::controllers
