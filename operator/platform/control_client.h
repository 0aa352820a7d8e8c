// ControlClient: the one client of the runtime's control protocol (the
// ControlServer of every replica: GET /readyz, POST /drain, /specialize on its
// control port, POST /invoke on its data port), addressed by endpoint, so the
// kube platform (a pod's IP and ports 8090/8080) and the local platform (a
// process on loopback ports) speak it alike.
// Over http::HttpClient; thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/http_client.h"

namespace sluice::platform {

// Where a replica's ControlServer listens, and how messages name the replica.
struct ControlEndpoint {
  std::string host;  // an IPv4 or IPv6 address or a name
  int port = 8090;
  std::string replica;  // "pod ns/name", "process on port 4711"
  // Set: the replica serves HTTPS with a certificate for this name (the
  // operator's CA, docs/trust.md), which the client must verify instead of
  // the address. Empty: plain HTTP.
  std::string tlsServerName{};

  std::string url() const;  // http(s)://host:port (IPv6 in brackets)
};

class ControlClient {
 public:
  explicit ControlClient(std::shared_ptr<http::HttpClient> http) : http_(std::move(http)) {}

  // GET /readyz answered 200.
  bool ready(const ControlEndpoint& endpoint, std::chrono::milliseconds timeout);
  // POST /drain: the replica stops taking work and finishes what it has.
  Status drain(const ControlEndpoint& endpoint, const std::string& token, std::chrono::milliseconds timeout);
  // POST /specialize with the runtime configuration: a warm replica becomes the function's.
  Status specialize(const ControlEndpoint& endpoint, const std::string& token, const std::string& configuration,
                    std::chrono::milliseconds timeout);
  // POST /invoke (the endpoint's port is the replica's data port) with the
  // invoke token: the replica runs the event (a cron tick) through its handler and outputs.
  Status invoke(const ControlEndpoint& endpoint, const std::string& token, const std::string& trigger,
                const std::string& eventType, const std::string& body, std::chrono::milliseconds timeout);

  // An answer >= 300 as a Status: 401 kPermissionDenied; 429, 503, 504
  // kUnavailable (draining, not specialized, overloaded: worth another try);
  // any other the replica's verdict on the request, kInternal.
  static Status answerError(int status, const std::string& what, std::string body);

 private:
  Status post(const ControlEndpoint& endpoint, const std::string& path, http::Request request);

  std::shared_ptr<http::HttpClient> http_;
};

}  // namespace sluice::platform
