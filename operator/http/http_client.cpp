#include "http/http_client.h"

namespace sluice::http {

Result<Response> get(HttpClient& client, const std::string& url, std::chrono::milliseconds timeout,
                     std::vector<std::pair<std::string, std::string>> headers) {
  Request request;
  request.url = url;
  request.headers = std::move(headers);
  request.timeout = timeout;
  return client.send(request);
}

Status statusError(const Response& response, const std::string& what) {
  std::string body = response.body.substr(0, 200);
  std::string message = what + ": HTTP " + std::to_string(response.status) + (body.empty() ? "" : ": " + body);
  if (response.status == 404) return notFound(message);
  if (response.status == 401) return {StatusCode::kUnauthenticated, message};
  if (response.status == 403) return {StatusCode::kPermissionDenied, message};
  if (response.status == 429) return {StatusCode::kResourceExhausted, message};
  if (response.status >= 500) return unavailable(message);
  return invalidArgument(message);
}

namespace {

class ResponseLimitedClient final : public HttpClient {
 public:
  ResponseLimitedClient(std::shared_ptr<HttpClient> inner, uint64_t maxBytes)
      : inner_(std::move(inner)), maxBytes_(maxBytes) {}
  Result<Response> send(const Request& request) override {
    if (maxBytes_ == 0 || (request.maxResponseBytes != 0 && request.maxResponseBytes <= maxBytes_)) {
      return inner_->send(request);
    }
    Request limited = request;
    limited.maxResponseBytes = maxBytes_;
    return inner_->send(limited);
  }

 private:
  const std::shared_ptr<HttpClient> inner_;
  const uint64_t maxBytes_;
};

}  // namespace

std::shared_ptr<HttpClient> withResponseLimit(std::shared_ptr<HttpClient> inner, uint64_t maxBytes) {
  return std::make_shared<ResponseLimitedClient>(std::move(inner), maxBytes);
}

Status responseTooLarge(const std::string& what, uint64_t limit) {
  return Status(StatusCode::kResourceExhausted,
                what + ": response body exceeds the limit of " + std::to_string(limit) + " bytes");
}

std::string withoutUserInfo(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

}  // namespace sluice::http
