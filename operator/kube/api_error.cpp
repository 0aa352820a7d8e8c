#include "kube/api_error.h"

#include <nlohmann/json.hpp>

namespace sluice::kube {

StatusCode statusCodeForHttp(int httpStatus, const std::string& reason) {
  switch (httpStatus) {
    case 400:
    case 422: return StatusCode::kInvalidArgument;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 409: return reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kConflict;
    case 410: return StatusCode::kGone;
    case 429: return StatusCode::kResourceExhausted;
    case 504: return StatusCode::kDeadlineExceeded;
    default: break;
  }
  if (httpStatus >= 500) return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

Status apiError(int httpStatus, const std::string& body) {
  std::string reason;
  std::string message;
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    reason = parsed.value("reason", "");
    message = parsed.value("message", "");
  } else {
    message = body.size() > 500 ? body.substr(0, 500) + "..." : body;
  }
  if (reason.empty()) {
    // The apiserver leaves reason empty on some errors; name the status instead.
    switch (httpStatus) {
      case 404: reason = "NotFound"; break;
      case 409: reason = "Conflict"; break;
      case 410: reason = "Gone"; break;
      case 429: reason = "TooManyRequests"; break;
      default: reason = "Unknown"; break;
    }
  }
  return {statusCodeForHttp(httpStatus, reason), "HTTP " + std::to_string(httpStatus) + " " + reason + ": " + message};
}

std::string apiErrorReason(const Status& status) {
  const std::string& m = status.message();
  auto http = m.find("HTTP ");
  if (http == std::string::npos) return "";
  auto space = m.find(' ', http + 5);
  auto colon = m.find(':', http);
  if (space == std::string::npos || colon == std::string::npos || colon < space) return "";
  return m.substr(space + 1, colon - space - 1);
}

}  // namespace sluice::kube
