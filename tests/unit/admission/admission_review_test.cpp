// The admission webhook's AdmissionReview handling: an object the API's
// validator accepts is allowed, one it refuses is refused with the very
// messages `sluice check` prints (the field named), and a body that is not an
// AdmissionReview request is a 400 naming what is wrong.
#include "admission/admission_review.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sluice::admission {
namespace {

using nlohmann::json;

json function(const std::string& pattern) {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "f"}, {"namespace", "team-a"}}},
          {"spec",
           {{"runtime", "builtin"},
            {"pipeline", json::array({{{"parse", {{"format", "regex"}, {"pattern", pattern}}}}})}}}};
}

json cronTrigger(const std::string& schedule, const std::string& timezone = "UTC") {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Trigger"},
          {"metadata", {{"name", "t"}, {"namespace", "team-a"}}},
          {"spec", {{"functionRef", {{"name", "f"}}}, {"cron", {{"schedule", schedule}, {"timezone", timezone}}}}}};
}

json review(const json& object, const std::string& operation = "CREATE") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request", {{"uid", "u-1"}, {"operation", operation}, {"object", object}}}};
}

// The response of a 200 answer.
json responseOf(const http::ServerResponse& answer) {
  EXPECT_EQ(answer.status, 200) << answer.body;
  json body = json::parse(answer.body);
  EXPECT_EQ(body["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(body["kind"], "AdmissionReview");
  EXPECT_EQ(body["response"]["uid"], "u-1");
  return body["response"];
}

const api::v1alpha1::CrdValidator& validator() { return api::v1alpha1::CrdValidator::builtin(); }

TEST(AdmissionReviewTest, AllowsAValidFunctionAndTrigger) {
  EXPECT_EQ(responseOf(reviewAdmission(review(function("^(?P<level>[A-Z]+) (?P<msg>.*)$")).dump(), validator())),
            json({{"uid", "u-1"}, {"allowed", true}}));
  EXPECT_EQ(responseOf(reviewAdmission(review(cronTrigger("@daily", "Europe/Paris")).dump(), validator()))["allowed"],
            true);
}

TEST(AdmissionReviewTest, RefusesARegexThatDoesNotCompileNamingTheField) {
  json response = responseOf(reviewAdmission(review(function("(a")).dump(), validator()));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["code"], 422);
  EXPECT_EQ(response["status"]["reason"], "Invalid");
  EXPECT_EQ(response["status"]["message"],
            "spec.pipeline[0].parse.pattern: Invalid value: \"(a\": invalid regular expression: missing ): (a");
}

TEST(AdmissionReviewTest, RefusesACronHourOutOfRangeAndAnUnknownZoneWithCheckMessages) {
  json object = cronTrigger("0 24 * * *", "Mars/Olympus");
  json validated = object;
  std::vector<api::v1alpha1::FieldError> expected = validator().validate(validated);
  ASSERT_EQ(expected.size(), 2u);
  json response = responseOf(reviewAdmission(review(object, "UPDATE").dump(), validator()));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["message"], expected[0].message + "; " + expected[1].message);
  EXPECT_EQ(expected[0].message,
            "spec.cron.schedule: Invalid value: \"0 24 * * *\": cron schedule \"0 24 * * *\": hour: 24 is outside "
            "0..23");
  EXPECT_EQ(expected[1].message,
            "spec.cron.timezone: Invalid value: \"Mars/Olympus\": unknown time zone "
            "\"Mars/Olympus\"");
}

TEST(AdmissionReviewTest, RefusesSchemaMistakesToo) {
  json object = function("x");
  object["spec"]["runtime"] = "cobol";
  json response = responseOf(reviewAdmission(review(object).dump(), validator()));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_NE(response["status"]["message"].get<std::string>().find("spec.runtime: Unsupported value: \"cobol\""),
            std::string::npos)
      << response;
}

TEST(AdmissionReviewTest, LetsDeletesDeletionsAndUnchangedSpecsThrough) {
  json bad = function("(a");
  EXPECT_EQ(responseOf(reviewAdmission(review(bad, "DELETE").dump(), validator()))["allowed"], true);
  json leaving = bad;
  leaving["metadata"]["deletionTimestamp"] = "2026-12-06T01:00:00Z";
  EXPECT_EQ(responseOf(reviewAdmission(review(leaving, "UPDATE").dump(), validator()))["allowed"], true);
  json update = review(bad, "UPDATE");
  update["request"]["oldObject"] = bad;
  update["request"]["object"]["metadata"]["finalizers"] = json::array({"sluice.io/cleanup"});
  EXPECT_EQ(responseOf(reviewAdmission(update.dump(), validator()))["allowed"], true);
  update["request"]["oldObject"]["spec"]["pipeline"][0]["parse"]["pattern"] = "(b)";
  EXPECT_EQ(responseOf(reviewAdmission(update.dump(), validator()))["allowed"], false);
}

TEST(AdmissionReviewTest, AMalformedRequestIsA400NamingTheField) {
  auto expect400 = [](const std::string& body, const std::string& message) {
    http::ServerResponse answer = reviewAdmission(body, validator());
    EXPECT_EQ(answer.status, 400) << body;
    EXPECT_EQ(answer.body, "AdmissionReview: " + message) << body;
  };
  expect400("{not json", "the body is not a JSON object");
  expect400("[]", "the body is not a JSON object");
  json noVersion = review(function("x"));
  noVersion["apiVersion"] = "admission.k8s.io/v1beta1";
  expect400(noVersion.dump(), "apiVersion: must be \"admission.k8s.io/v1\"");
  json wrongKind = review(function("x"));
  wrongKind["kind"] = "Pod";
  expect400(wrongKind.dump(), "kind: must be \"AdmissionReview\"");
  expect400(json({{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}}).dump(),
            "request: Required value");
  json noUid = review(function("x"));
  noUid["request"].erase("uid");
  expect400(noUid.dump(), "request.uid: Required value");
  json noObject = review(function("x"));
  noObject["request"].erase("object");
  expect400(noObject.dump(), "request.object: Required value");
}

TEST(AdmissionReviewTest, OnlyPostIsServed) {
  http::ServerRequest get;
  get.method = "GET";
  EXPECT_EQ(serveAdmission(get, validator()).status, 405);
  http::ServerRequest post;
  post.method = "POST";
  post.body = review(function("(a")).dump();
  EXPECT_EQ(json::parse(serveAdmission(post, validator()).body)["response"]["allowed"], false);
}

}  // namespace
}  // namespace sluice::admission
