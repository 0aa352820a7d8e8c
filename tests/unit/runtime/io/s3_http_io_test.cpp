// The S3 client's requests (URLs, conditional headers, signing inputs) and its
// reading of ListObjectsV2 answers and S3 errors; the HTTP and S3 sinks'
// success and failure reports; wiring errors that name the missing variable.
// The HTTP layer is a recording fake: S3 behaviour itself is shown against
// MinIO in tests/integration/runtime_io.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "objectstore/s3_client.h"
#include "runtime/control/wiring.h"
#include "runtime/sinks/http_sink.h"
#include "runtime/sinks/s3_sink.h"

namespace sluice::runtime {
namespace {

using sluice::testing::FakeClock;
using sluice::testing::FakeHttpClient;

std::string headerOf(const http::Request& request, const std::string& name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

objectstore::S3Options minio() {
  objectstore::S3Options options;
  options.endpoint = "http://127.0.0.1:9000/";
  options.bucket = "logs";
  options.credentials = {"AK", "SK", "us-east-1", "s3"};
  return options;
}

TEST(S3ClientTest, ParsesListObjectsV2WithEscapedKeysQuotedEtagsAndContinuation) {
  const std::string xml =
      "<?xml version=\"1.0\"?><ListBucketResult><Name>logs</Name><IsTruncated>true</IsTruncated>"
      "<Contents><Key>in/a&amp;b &lt;1&gt;.gz</Key><LastModified>2026-11-30T22:40:00.123Z</LastModified>"
      "<ETag>&quot;abc123&quot;</ETag><Size>42</Size></Contents>"
      "<Contents><Key>in/c.gz</Key><ETag>\"def\"</ETag><Size>7</Size></Contents>"
      "<Contents><Key>in/d.gz</Key><ETag>&#34;0a1b&#34;</ETag><Size>1</Size></Contents>"  // MinIO's escape
      "<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>";
  auto page = objectstore::parseListObjectsV2(xml);
  ASSERT_TRUE(page.isOk()) << page.status().toString();
  ASSERT_EQ(page->objects.size(), 3u);
  EXPECT_EQ(page->objects[0].key, "in/a&b <1>.gz");
  EXPECT_EQ(page->objects[0].etag, "abc123");
  EXPECT_EQ(page->objects[0].size, 42);
  EXPECT_EQ(page->objects[0].lastModified, "2026-11-30T22:40:00.123Z");
  EXPECT_EQ(page->objects[1].etag, "def");
  EXPECT_EQ(page->objects[2].etag, "0a1b") << "as a GET's ETag header says it";
  EXPECT_EQ(page->nextContinuationToken, "tok+/=");

  auto last = objectstore::parseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(last.isOk());
  EXPECT_TRUE(last->objects.empty());
  EXPECT_EQ(last->nextContinuationToken, "");
  EXPECT_FALSE(objectstore::parseListObjectsV2("<html>proxy error</html>").isOk());
}

TEST(S3ClientTest, ErrorsCarryTheS3CodeAndMessageAndMapToRetryableOrNot) {
  http::Response denied{403, {}, "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>"};
  Status status = objectstore::s3Error(denied, "GET s3://logs/a");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "GET s3://logs/a: HTTP 403 AccessDenied: Access Denied.");
  EXPECT_EQ(objectstore::s3Error({412, {}, ""}, "PUT x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(objectstore::s3Error({404, {}, ""}, "GET x").code(), StatusCode::kNotFound);
  EXPECT_TRUE(objectstore::s3Error({500, {}, ""}, "GET x").isRetryable());
}

TEST(S3ClientTest, ConditionalPutSignsPathStyleUrlAndConditionHeaders) {
  auto http = std::make_shared<FakeHttpClient>();
  FakeClock clock;
  objectstore::S3Client client(minio(), http, clock);
  ASSERT_TRUE(client.put(".sluice/claims/in/a b.gz", "owner\n", {.ifNoneMatchAny = true, .ifMatchEtag = ""}).isOk());
  http->answer(http::Response{412, {}, "<Error><Code>PreconditionFailed</Code></Error>"});
  Status taken = client.put(".sluice/claims/in/a b.gz", "x", {.ifNoneMatchAny = false, .ifMatchEtag = "e1"});
  EXPECT_EQ(taken.code(), StatusCode::kFailedPrecondition);

  auto requests = http->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9000/logs/.sluice/claims/in/a%20b.gz");
  EXPECT_EQ(requests[0].body, "owner\n");
  EXPECT_EQ(headerOf(requests[0], "if-none-match"), "*");
  EXPECT_EQ(headerOf(requests[0], "x-amz-content-sha256"), objectstore::sha256Hex("owner\n"));
  const std::string auth = headerOf(requests[0], "authorization");
  EXPECT_NE(auth.find("Credential=AK/"), std::string::npos) << auth;
  EXPECT_NE(auth.find("SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date"), std::string::npos) << auth;
  EXPECT_EQ(headerOf(requests[1], "if-match"), "\"e1\"");
  EXPECT_EQ(headerOf(requests[1], "if-none-match"), "<absent>");
}

TEST(S3ClientTest, CopyReportsAnErrorSentInsideA200Answer) {
  auto http = std::make_shared<FakeHttpClient>();
  FakeClock clock;
  objectstore::S3Client client(minio(), http, clock);
  http->answer(http::Response{200, {}, "<Error><Code>InternalError</Code><Message>try again</Message></Error>"});
  Status copied = client.copy("in/a.gz", "done/a.gz");
  EXPECT_FALSE(copied.isOk());
  EXPECT_EQ(copied.message(), "copying s3://logs/in/a.gz to done/a.gz: HTTP 500 InternalError: try again");
  EXPECT_EQ(headerOf(http->requests()[0], "x-amz-copy-source"), "/logs/in/a.gz");
}

TEST(HttpSinkTest, OnlyA2xxAnswerCountsAsWritten) {
  auto http = std::make_shared<FakeHttpClient>();
  HttpSink sink({"http://127.0.0.1:1/in", "PUT", {{"Authorization", "Bearer t"}}, std::chrono::seconds(3)}, http);
  http->answer(http::Response{204, {}, ""});
  http->answer(http::Response{503, {}, "busy"});
  http->answer(Result<http::Response>(unavailable("PUT http://127.0.0.1:1/in: connection refused")));
  std::vector<Status> results;
  for (int i = 0; i < 3; ++i) {
    Record record;
    record.key = "k" + std::to_string(i);
    record.value = "v" + std::to_string(i);
    sink.write(record, [&](const Status& status) { results.push_back(status); });
  }
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].isOk());
  EXPECT_EQ(results[1].message(), "http output PUT http://127.0.0.1:1/in: HTTP 503: busy");
  EXPECT_EQ(results[2].message(), "http output: PUT http://127.0.0.1:1/in: connection refused");
  auto requests = http->requests();
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].body, "v0");
  EXPECT_EQ(headerOf(requests[0], "X-Sluice-Key"), "k0");
  EXPECT_EQ(headerOf(requests[0], "Authorization"), "Bearer t");
}

TEST(S3SinkTest, WritesEachRecordAsAUniqueObjectUnderThePrefix) {
  auto http = std::make_shared<FakeHttpClient>();
  FakeClock clock;
  auto client = std::make_shared<objectstore::S3Client>(minio(), http, clock);
  S3Sink sink({"out/", ".log"}, client, clock);
  http->answer(http::Response{200, {}, ""});
  http->answer(http::Response{403, {}, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>"});
  std::vector<Status> results;
  sink.write(Record{std::nullopt, "one", {}, std::nullopt, "", nullptr, "", ""},
             [&](const Status& s) { results.push_back(s); });
  sink.write(Record{std::nullopt, "two", {}, std::nullopt, "", nullptr, "", ""},
             [&](const Status& s) { results.push_back(s); });
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].isOk());
  EXPECT_EQ(results[1].code(), StatusCode::kPermissionDenied);
  auto requests = http->requests();
  EXPECT_NE(requests[0].url, requests[1].url);
  EXPECT_EQ(requests[0].url.rfind("http://127.0.0.1:9000/logs/out/", 0), 0u) << requests[0].url;
  EXPECT_EQ(requests[0].url.substr(requests[0].url.size() - 4), ".log");
  EXPECT_EQ(requests[0].body, "one");
}

TEST(WiringTest, S3TriggerAndOutputNameTheMissingCredentialVariable) {
  unsetenv("SLUICE_TEST_S3_MISSING");
  setenv("SLUICE_TEST_S3_AK", "ak", 1);
  config::FunctionConfig function;
  config::ObjectStoreSourceConfig store;
  store.kind = config::ObjectStoreKind::kS3;
  store.endpoint = "http://127.0.0.1:9";
  store.bucket = "logs";
  store.accessKeyEnv = "SLUICE_TEST_S3_AK";
  store.secretKeyEnv = "SLUICE_TEST_S3_MISSING";
  config::TriggerConfig trigger{"uploads", store};
  FakeClock clock;
  RuntimeMetrics metrics;
  auto source = buildSource(trigger, function, metrics, clock);
  ASSERT_FALSE(source.isOk());
  EXPECT_EQ(source.status().message(),
            "trigger \"uploads\".objectStore.secretKeyEnv: environment variable SLUICE_TEST_S3_MISSING is not set");

  config::S3SinkConfig s3;
  s3.endpoint.endpoint = "http://127.0.0.1:9";
  s3.endpoint.bucket = "arch";
  s3.endpoint.accessKeyEnv = "SLUICE_TEST_S3_MISSING";
  s3.endpoint.secretKeyEnv = "SLUICE_TEST_S3_AK";
  auto sink = buildSink({"archive", s3});
  ASSERT_FALSE(sink.isOk());
  EXPECT_EQ(sink.status().message(),
            "output \"archive\".s3.accessKeyEnv: environment variable SLUICE_TEST_S3_MISSING is not set");

  config::HttpSinkConfig web;
  web.url = "http://127.0.0.1:9/in";
  web.bearerTokenEnv = "SLUICE_TEST_S3_MISSING";
  auto hook = buildSink({"hook", web});
  ASSERT_FALSE(hook.isOk());
  EXPECT_EQ(hook.status().message(),
            "output \"hook\".http.bearerTokenEnv: environment variable SLUICE_TEST_S3_MISSING is not set");
}

}  // namespace
}  // namespace sluice::runtime
