// CppRestHttpGetter: HttpGetter over cpprestsdk 2.10 (timeouts per request,
// basic auth from the URL's user info). Thread-safe: a client per call.
#pragma once

#include <chrono>

#include "scalers/http_getter.h"

namespace sluice::scalers {

class CppRestHttpGetter final : public HttpGetter {
 public:
  explicit CppRestHttpGetter(std::chrono::milliseconds timeout = std::chrono::seconds(5)) : timeout_(timeout) {}
  Result<HttpResponse> get(const std::string& url, const HttpHeaders& headers = {}) override;

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace sluice::scalers
