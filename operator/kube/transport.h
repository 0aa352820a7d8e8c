// Transport: the one seam between the Kubernetes client and HTTP.
//
// The client speaks to the apiserver only through this interface, so the HTTP
// library (cpprestsdk, in maintenance mode upstream) stays replaceable and unit
// tests can use an in-memory fake. Implementations must be thread-safe: many
// informers and workers call them at once.
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string pathAndQuery;  // "/api/v1/namespaces/x/configmaps?limit=500"
  std::string body;
  std::string contentType;  // empty when there is no body
  // Longest silence allowed on the connection (cpprestsdk's timer is reset per chunk).
  std::chrono::seconds idleTimeout{30};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retryAfter;  // the Retry-After header, when present
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends a request and reads the whole response. A non-2xx status is not an
  // error here (the caller maps it); a network failure is kUnavailable.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;

  // Sends a request and, when the status is 2xx, hands each line of the body
  // to onLine until the server ends it (returns OK with an empty body), onLine
  // returns false, or `stop` is requested (kCancelled). A non-2xx response is
  // returned whole without calling onLine.
  virtual Result<HttpResponse> stream(const HttpRequest& request,
                                      const std::function<bool(std::string_view line)>& onLine,
                                      std::stop_token stop) = 0;
};

}  // namespace sluice::kube
