#include "scalers/http_getter.h"

namespace sluice::scalers {

Status httpStatusError(const HttpResponse& response, const std::string& what) {
  std::string body = response.body.substr(0, 200);
  std::string message = what + ": HTTP " + std::to_string(response.status) + (body.empty() ? "" : ": " + body);
  if (response.status == 404) return notFound(message);
  if (response.status == 401) return {StatusCode::kUnauthenticated, message};
  if (response.status == 403) return {StatusCode::kPermissionDenied, message};
  if (response.status == 429) return {StatusCode::kResourceExhausted, message};
  if (response.status >= 500) return unavailable(message);
  return invalidArgument(message);
}

}  // namespace sluice::scalers
