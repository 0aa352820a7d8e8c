#include "admission/admission_review.h"

#include <nlohmann/json.hpp>

namespace sluice::admission {

namespace {

using nlohmann::json;

constexpr const char* kApiVersion = "admission.k8s.io/v1";

http::ServerResponse badRequest(const std::string& why) { return http::textResponse(400, "AdmissionReview: " + why); }

http::ServerResponse answer(const std::string& uid, const std::vector<api::v1alpha1::FieldError>& errors) {
  json response = {{"uid", uid}, {"allowed", errors.empty()}};
  if (!errors.empty()) {
    std::string message;
    for (const auto& error : errors) message += (message.empty() ? "" : "; ") + error.message;
    response["status"] = {{"code", 422}, {"reason", "Invalid"}, {"message", message}};
  }
  http::ServerResponse out;
  out.headers.emplace_back("Content-Type", "application/json");
  out.body = json({{"apiVersion", kApiVersion}, {"kind", "AdmissionReview"}, {"response", response}}).dump();
  return out;
}

// The object needs no check: it goes, is on its way out, or keeps its spec.
bool passesUnchecked(const json& request) {
  const std::string operation = request.value("operation", std::string());
  if (operation == "DELETE" || operation == "CONNECT") return true;
  const json& object = request["object"];
  if (object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("deletionTimestamp") && !object["metadata"]["deletionTimestamp"].is_null()) {
    return true;
  }
  if (operation != "UPDATE" || !request.contains("oldObject") || !request["oldObject"].is_object()) return false;
  return request["oldObject"].value("spec", json()) == object.value("spec", json());
}

}  // namespace

http::ServerResponse reviewAdmission(const std::string& body, const api::v1alpha1::CrdValidator& validator) {
  json review = json::parse(body, nullptr, false);
  if (review.is_discarded() || !review.is_object()) return badRequest("the body is not a JSON object");
  if (review.value("apiVersion", json()) != kApiVersion) {
    return badRequest("apiVersion: must be \"" + std::string(kApiVersion) + "\"");
  }
  if (review.value("kind", json()) != "AdmissionReview") return badRequest("kind: must be \"AdmissionReview\"");
  if (!review.contains("request") || !review["request"].is_object()) return badRequest("request: Required value");
  const json& request = review["request"];
  if (!request.contains("uid") || !request["uid"].is_string() || request["uid"].get<std::string>().empty()) {
    return badRequest("request.uid: Required value");
  }
  if (request.contains("operation") && !request["operation"].is_string()) {
    return badRequest("request.operation: must be a string");
  }
  const std::string uid = request["uid"].get<std::string>();
  const std::string operation = request.value("operation", std::string());
  if (operation == "DELETE" || operation == "CONNECT") return answer(uid, {});
  if (!request.contains("object") || !request["object"].is_object())
    return badRequest("request.object: Required value");
  if (passesUnchecked(request)) return answer(uid, {});
  json object = request["object"];  // validate() applies defaults to its argument
  return answer(uid, validator.validate(object));
}

http::ServerResponse serveAdmission(const http::ServerRequest& request, const api::v1alpha1::CrdValidator& validator) {
  if (request.method != "POST") {
    http::ServerResponse refused = http::textResponse(405, "AdmissionReview: POST only");
    refused.headers.emplace_back("Allow", "POST");
    return refused;
  }
  return reviewAdmission(request.body, validator);
}

}  // namespace sluice::admission
