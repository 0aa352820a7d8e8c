// HttpGetter: the one HTTP GET seam the HTTP-based scalers use (RabbitMQ
// management API, Prometheus, WebHDFS, S3). The real one is CppRestHttpGetter;
// unit tests use a fake answering fixed bodies. Implementations are thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::scalers {

struct HttpResponse {
  int status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpGetter {
 public:
  virtual ~HttpGetter() = default;
  // `url` may carry user:password@ (sent as basic auth). Transport failures are
  // Unavailable; any HTTP status is returned as a response, not an error.
  virtual Result<HttpResponse> get(const std::string& url, const HttpHeaders& headers = {}) = 0;
};

// Maps a non-2xx answer to a Status naming what was asked.
Status httpStatusError(const HttpResponse& response, const std::string& what);

}  // namespace sluice::scalers
