// Kubernetes client configuration: where the apiserver is and how to prove who
// we are, loaded from a kubeconfig file or from the in-cluster service account.
//
// Kubeconfig support: current-context (or an explicit context), cluster server,
// certificate-authority and certificate-authority-data, insecure-skip-tls-verify,
// user client-certificate/-key and their -data forms, token and tokenFile, and
// the context's namespace. Relative file paths are resolved against the
// kubeconfig's directory, as kubectl does. Every error names the file and the
// field. Values are plain data (thread-compatible); BearerToken is thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::kube {

struct ClientConfig {
  std::string server;  // "https://127.0.0.1:6443", without a trailing slash
  std::string caPem;   // trusted CA bundle (PEM); empty = system roots
  bool insecureSkipTlsVerify = false;
  std::string clientCertPem;  // client certificate chain (PEM), with clientKeyPem
  std::string clientKeyPem;
  std::string token;      // static bearer token
  std::string tokenFile;  // bearer token re-read from this file (wins over token)
  std::string defaultNamespace = "default";
  std::string origin;  // "kubeconfig /path (context ctx)" or "in-cluster", for messages
};

// Reads and parses a kubeconfig. An empty context means its current-context.
Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context = "");
// Parses kubeconfig text; `path` names it in errors and anchors relative file paths.
Result<ClientConfig> parseKubeconfig(const std::string& text, const std::string& path, const std::string& context = "");

// In-cluster: KUBERNETES_SERVICE_HOST/PORT plus the service account's token,
// ca.crt and namespace under `serviceAccountDir`.
Result<ClientConfig> inClusterConfig(
    const std::string& serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// Reads a whole file; the error names the file.
Result<std::string> readFile(const std::string& path);

// The bearer token to send: the static token, or the token file re-read at
// most every `refresh` (service-account tokens are rotated on disk). A failed
// re-read keeps the previous token. Thread-safe.
class BearerToken {
 public:
  BearerToken(Clock& clock, const ClientConfig& config, Clock::Duration refresh = std::chrono::minutes(1));
  // Empty when the config has no token at all.
  Result<std::string> current();

 private:
  Clock& clock_;
  const std::string staticToken_;
  const std::string file_;
  const Clock::Duration refresh_;
  std::mutex mu_;
  std::string cached_;
  Clock::TimePoint readAt_{};
  bool haveRead_ = false;
};

}  // namespace sluice::kube
