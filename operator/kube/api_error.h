// Mapping from an apiserver HTTP response to a Sluice Status.
//
// The API's own Status object (reason and message) is carried in the message:
// "HTTP 409 Conflict: Operation cannot be fulfilled on configmaps \"x\": ...".
// Codes: 400/422 -> kInvalidArgument, 401 -> kUnauthenticated, 403 ->
// kPermissionDenied, 404 -> kNotFound, 409 -> kAlreadyExists (reason
// AlreadyExists) or kConflict, 410 -> kGone, 429 -> kResourceExhausted,
// 504 -> kDeadlineExceeded, other 5xx -> kUnavailable. Pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace sluice::kube {

StatusCode statusCodeForHttp(int httpStatus, const std::string& reason);

// `body` is the response body (a metav1.Status JSON when the apiserver wrote it).
Status apiError(int httpStatus, const std::string& body);

// The reason word ("Conflict", "AlreadyExists", "Expired", ...) of an apiError()
// message, or "" when it has none.
std::string apiErrorReason(const Status& status);

}  // namespace sluice::kube
