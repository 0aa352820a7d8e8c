// HttpReplicaControl: ReplicaControl through the ControlClient to
// http://<status.podIP>:8090, authenticated with the namespace's control token (ControlTokens). Drains get
// a short timeout (the deletion's SIGTERM drains anyway); specialization waits
// for the runtime to load the handler. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "platform/control_client.h"
#include "platform/kube/control_token.h"
#include "platform/kube/replica_control.h"

namespace sluice::platform {

struct HttpReplicaControlOptions {
  int port = 8090;
  std::chrono::milliseconds drainTimeout{2000};
  std::chrono::milliseconds specializeTimeout{30000};
  // An invocation runs the handler, retries included.
  std::chrono::milliseconds invokeTimeout{120000};
};

class HttpReplicaControl final : public ReplicaControl {
 public:
  HttpReplicaControl(ControlTokens& tokens, HttpReplicaControlOptions options = {},
                     std::shared_ptr<http::HttpClient> http = http::makeCppRestHttpClient())
      : tokens_(tokens), options_(options), client_(std::move(http)) {}

  Status drain(const nlohmann::json& pod) override;
  Status specialize(const nlohmann::json& pod, const std::string& configuration) override;
  Status invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                const std::string& body) override;

 private:
  // The pod's control endpoint and the namespace's token.
  Result<std::pair<ControlEndpoint, std::string>> addressOf(const nlohmann::json& pod);

  ControlTokens& tokens_;
  HttpReplicaControlOptions options_;
  ControlClient client_;
};

}  // namespace sluice::platform
