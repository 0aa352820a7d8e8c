// HttpClient: the one HTTP request/response seam of Sluice's clients (the S3
// and WebHDFS clients, the runtime's HTTP sink, the HTTP-based scalers:
// RabbitMQ management API, Prometheus, S3 listings, replica /metrics). The
// Kubernetes client has its own seam (kube/transport.h) for the apiserver's
// TLS and watch streams. Bodies are bytes, never re-encoded. A URL may carry
// user:password@, sent as basic auth and never shown in errors. The real one is CppRestHttpClient; unit tests use a
// fake. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

struct Request {
  std::string method = "GET";
  std::string url;  // absolute: http(s)://host:port/path?query (already encoded)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // bytes; sent as application/octet-stream unless a content-type header is given
  std::chrono::milliseconds timeout{30'000};
  // Bytes of response body this caller accepts; 0: no limit. A longer body
  // (by Content-Length, or as it arrives) is kResourceExhausted and is never
  // held whole in memory.
  uint64_t maxResponseBytes = 0;
  // For https through makeTlsHttpClient: the name the server's certificate
  // must carry when it is not the URL's host (a replica called by its pod
  // IP, docs/trust.md). Other clients ignore it.
  std::string tlsServerName;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // bytes

  const std::string* header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? nullptr : &it->second;
  }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // A network failure or timeout is kUnavailable; any HTTP status is a Response.
  virtual Result<Response> send(const Request& request) = 0;
};

// A GET of `url` with `headers`, bounded by `timeout`.
Result<Response> get(HttpClient& client, const std::string& url, std::chrono::milliseconds timeout,
                     std::vector<std::pair<std::string, std::string>> headers = {});

// A non-2xx answer as a Status naming what was asked (404 kNotFound, 401
// kUnauthenticated, 403 kPermissionDenied, 429 kResourceExhausted, 5xx
// kUnavailable, other kInvalidArgument), with the start of the body.
Status statusError(const Response& response, const std::string& what);

// `url` without the user:password@ of its authority, for messages.
std::string withoutUserInfo(const std::string& url);

// `inner` with every request's maxResponseBytes lowered to `maxBytes` (0:
// unchanged): how the operator bounds what it reads from the URLs users and
// pods choose (Prometheus, S3 listings, WebHDFS, replica /metrics, gateway /loads).
std::shared_ptr<HttpClient> withResponseLimit(std::shared_ptr<HttpClient> inner, uint64_t maxBytes);

// The error for a body over `limit` bytes.
Status responseTooLarge(const std::string& what, uint64_t limit);

std::shared_ptr<HttpClient> makeCppRestHttpClient();

// Plain http:// only, for servers that send an unsolicited "100 Continue"
// before their answer (Hadoop's DataNode on WebHDFS CREATE), which cpprestsdk
// mistakes for the answer. See beast_http_client.cpp.
std::shared_ptr<HttpClient> makeBeastHttpClient();

// http:// and https:// over Boost.Beast, trusting for https only the CA
// certificates (PEM bundle) that `trustedPem` returns — asked per request, so
// a renewed CA is followed — and requiring the certificate to name
// request.tlsServerName (else the URL's host). TLS 1.2 or later. The
// operator's client of the replicas' control port.
std::shared_ptr<HttpClient> makeTlsHttpClient(std::function<std::string()> trustedPem);

}  // namespace sluice::http
