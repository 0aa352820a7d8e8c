// HttpReplicaControl: ReplicaControl through the ControlClient to the pod's
// IP: /drain and /specialize on the control port (8090) with the namespace's
// control token — the previous one when the replica answers 401, so pods
// started before a rotation stay reachable — and /invoke on the data port
// (8080) with the namespace's invoke token (ControlTokens). A pod given a
// serving certificate (api::controlPortServesTls) is called over https only,
// trusting the operator's CA alone and requiring the certificate to name
// api::controlServerName(ns): the control token never goes to a server that
// cannot prove it is a replica of that namespace. Drains get a short
// timeout (the deletion's SIGTERM drains anyway); specialization waits for the
// runtime to load the handler. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "api/pods.h"
#include "platform/control_client.h"
#include "platform/kube/control_token.h"
#include "platform/kube/replica_control.h"

namespace sluice::platform {

struct HttpReplicaControlOptions {
  int port = api::kControlPort;
  int dataPort = api::kDataPort;
  std::chrono::milliseconds drainTimeout{2000};
  std::chrono::milliseconds specializeTimeout{30000};
  // An invocation runs the handler, retries included.
  std::chrono::milliseconds invokeTimeout{120000};
};

class HttpReplicaControl final : public ReplicaControl {
 public:
  // `http` null: the Beast client trusting tokens.trustedCertificates().
  HttpReplicaControl(ControlTokens& tokens, HttpReplicaControlOptions options = {},
                     std::shared_ptr<http::HttpClient> http = nullptr);

  Status drain(const nlohmann::json& pod) override;
  Status specialize(const nlohmann::json& pod, const std::string& configuration) override;
  Status invoke(const nlohmann::json& pod, const std::string& trigger, const std::string& eventType,
                const std::string& body) override;

 private:
  // The pod's endpoint on `port` (with the name its certificate must carry when `control` and it serves TLS)
  // and the namespace's tokens.
  Result<std::pair<ControlEndpoint, NamespaceTokens>> addressOf(const nlohmann::json& pod, int port, bool control);
  // `call` with the current control token, again with the previous one if the replica refused the first.
  Status withControlToken(const nlohmann::json& pod,
                          const std::function<Status(const ControlEndpoint&, const std::string&)>& call);

  ControlTokens& tokens_;
  HttpReplicaControlOptions options_;
  ControlClient client_;
};

}  // namespace sluice::platform
