// The operator's validating admission webhook (docs/admission.md): answers
// the apiserver's AdmissionReview (admission.k8s.io/v1) for Functions and
// Triggers with the API layer's one validator (CrdValidator, which runs the
// checks the CRD schema cannot make), so `kubectl apply` refuses what
// `sluice check` and `--local --check` refuse, with the same field-naming
// message. Pure; thread-safe.
#pragma once

#include <string>

#include "api/v1alpha1/crd_validator.h"
#include "http/http_server.h"

namespace sluice::admission {

// The answer to one POSTed AdmissionReview body: 200 with an AdmissionReview
// whose response allows the object, or refuses it (code 422, reason Invalid,
// the messages joined by "; "); 400 with a plain-text error naming the field
// when the body is not an AdmissionReview request. Allowed without a check:
// DELETE and CONNECT, an object being deleted (its finalizers must be able to
// go), and an UPDATE that leaves spec as it was (an object stored before the
// webhook must keep taking metadata changes).
http::ServerResponse reviewAdmission(const std::string& body, const api::v1alpha1::CrdValidator& validator);

// The HTTP side: POST to any path with a JSON body; other methods 405.
http::ServerResponse serveAdmission(const http::ServerRequest& request, const api::v1alpha1::CrdValidator& validator);

}  // namespace sluice::admission
