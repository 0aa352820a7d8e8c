// S3Source's claim protocol, driven by scripted S3 answers: an abandoned claim
// (stale heartbeat) is taken over with If-Match on its ETag; a live claim held
// by another replica is left alone; with afterProcessing tag the object is
// tagged and its claim becomes a "done" marker that keeps the same version
// from being processed again, while a new version (new ETag) is. Real S3
// behaviour (conditional writes, two replicas, kill -9) is shown against
// MinIO in tests/integration/runtime_io/runtime_binary_s3_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "object_source_test_util.h"
#include "runtime/sources/s3_source.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeClock;
using sluice::testing::FakeHttpClient;

http::Response listing(const std::string& key, const std::string& etag) {
  return {200,
          {},
          "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>" + key +
              "</Key><LastModified>2026-11-30T22:40:00.000Z</LastModified><ETag>\"" + etag +
              "\"</ETag><Size>5</Size></Contents></ListBucketResult>"};
}

std::string describe(const http::Request& r) {
  std::string text = r.method + " " + r.url.substr(std::string("http://127.0.0.1:9000").size());
  for (const auto& [name, value] : r.headers) {
    if (name == "if-none-match" || name == "if-match") text += " " + name + "=" + value;
  }
  return text;
}

struct SourceFixture {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  FakeClock clock;
  RecordingDispatcher dispatcher;
  std::unique_ptr<S3Source> source;

  explicit SourceFixture(S3AfterProcessing after) {
    objectstore::S3Options options;
    options.endpoint = "http://127.0.0.1:9000";
    options.bucket = "logs";
    options.credentials = {"AK", "SK", "us-east-1", "s3"};
    S3SourceOptions sourceOptions;
    sourceOptions.triggerName = "uploads";
    sourceOptions.prefix = "in/";
    sourceOptions.afterProcessing = after;
    sourceOptions.pollInterval = 1s;
    sourceOptions.claimTtl = 30s;
    sourceOptions.owner = "me-1";
    source =
        std::make_unique<S3Source>(sourceOptions, std::make_shared<objectstore::S3Client>(options, http, clock), clock);
  }
  std::string heartbeat(std::chrono::seconds ago) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>((clock.wallNow() - ago).time_since_epoch());
    return std::to_string(ms.count());
  }
};

TEST(S3SourceTest, AbandonedClaimIsTakenOverAndATaggedObjectIsNotProcessedTwice) {
  SourceFixture f(S3AfterProcessing::kTag);
  f.http->answer(listing("in/a.gz", "e1"));     // start(): probe
  f.http->answer(listing("in/a.gz", "e1"));     // scan
  f.http->answer(http::Response{412, {}, ""});  // create claim: exists
  f.http->answer(http::Response{200, {{"etag", "\"c1\""}}, "other-7\n" + f.heartbeat(31s) + "\n"});  // stale
  f.http->answer(http::Response{200, {}, ""});                         // take over with If-Match
  f.http->answer(http::Response{200, {{"etag", "\"e1\""}}, "hello"});  // the object
  ASSERT_TRUE(f.source->start(f.dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return f.dispatcher.count() == 1; }));
  Event event = f.dispatcher.event(0);
  EXPECT_EQ(event.id, "s3://logs/in/a.gz@e1");
  EXPECT_EQ(event.source, "s3");
  EXPECT_EQ(event.data, "hello");
  EXPECT_EQ(event.key, "in/a.gz");

  f.dispatcher.complete(0, Outcome::kAcked);  // tagging and the done marker: fallback 200s
  std::vector<std::string> expected = {
      "GET /logs?list-type=2&max-keys=1&prefix=in%2F",
      "GET /logs?list-type=2&max-keys=1000&prefix=in%2F",
      "PUT /logs/.sluice/claims/in/a.gz if-none-match=*",
      "GET /logs/.sluice/claims/in/a.gz",
      "PUT /logs/.sluice/claims/in/a.gz if-match=\"c1\"",
      "GET /logs/in/a.gz",
      "PUT /logs/in/a.gz?tagging=",
      "PUT /logs/.sluice/claims/in/a.gz",
  };
  // The after-processing runs on the source's own threads.
  ASSERT_TRUE(eventually([&] { return f.http->requests().size() >= expected.size(); }));
  auto requests = f.http->requests();
  EXPECT_EQ(describeAll(requests, describe), expected);
  ASSERT_EQ(requests.size(), expected.size());
  EXPECT_EQ(requests[4].body.substr(0, 5), "me-1\n") << "the claim names its new owner";
  EXPECT_NE(requests[6].body.find("<Key>sluice-processed</Key><Value>true</Value>"), std::string::npos);
  EXPECT_EQ(requests[7].body, "done e1\n");

  // Next scan: same version, claim is the done marker -> skipped. Then a new
  // version (e2) of the object replaces the marker and is processed.
  f.http->answer(listing("in/a.gz", "e1"));
  f.http->answer(http::Response{412, {}, ""});
  f.http->answer(http::Response{200, {{"etag", "\"c2\""}}, "done e1\n"});
  f.http->answer(listing("in/a.gz", "e2"));
  f.http->answer(http::Response{412, {}, ""});
  f.http->answer(http::Response{200, {{"etag", "\"c2\""}}, "done e1\n"});
  f.http->answer(http::Response{200, {}, ""});
  f.http->answer(http::Response{200, {{"etag", "\"e2\""}}, "hello again"});
  f.clock.waitForSleepers(1);
  f.clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return f.http->requests().size() >= expected.size() + 3; }));
  f.clock.waitForSleepers(1);
  EXPECT_EQ(f.dispatcher.count(), 1u) << "the tagged version was taken again";
  f.clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return f.dispatcher.count() == 2; }));
  EXPECT_EQ(f.dispatcher.event(1).id, "s3://logs/in/a.gz@e2");
  EXPECT_EQ(describe(f.http->requests()[expected.size() + 6]), "PUT /logs/.sluice/claims/in/a.gz if-match=\"c2\"");
  (void)f.source->finish(f.clock.now());
}

TEST(S3SourceTest, ALiveClaimOfAnotherReplicaIsLeftAloneAndDrainReleasesOwnClaims) {
  SourceFixture f(S3AfterProcessing::kDelete);
  f.http->answer(listing("in/b.gz", "e1"));                                                         // probe
  f.http->answer(listing("in/b.gz", "e1"));                                                         // scan
  f.http->answer(http::Response{412, {}, ""});                                                      // exists
  f.http->answer(http::Response{200, {{"etag", "\"c1\""}}, "other-7\n" + f.heartbeat(5s) + "\n"});  // live
  ASSERT_TRUE(f.source->start(f.dispatcher).isOk());
  f.clock.waitForSleepers(1);
  EXPECT_EQ(f.dispatcher.count(), 0u);
  EXPECT_EQ(f.http->requests().size(), 4u) << "no takeover of a live claim";

  // The other replica is gone now: our scan claims it, then a drain releases it unfinished.
  f.http->answer(listing("in/b.gz", "e1"));
  f.http->answer(http::Response{200, {}, ""});  // claim created
  f.http->answer(http::Response{200, {{"etag", "\"e1\""}}, "data"});
  f.clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return f.dispatcher.count() == 1; }));
  f.source->stopFetching();
  ASSERT_TRUE(f.source->finish(f.clock.now()).isOk());
  EXPECT_EQ(describe(f.http->requests().back()), "DELETE /logs/.sluice/claims/in/b.gz");
  size_t before = f.http->requests().size();
  f.dispatcher.complete(0, Outcome::kAcked);  // too late: another replica owns it now
  EXPECT_EQ(f.http->requests().size(), before) << "a released object must not be deleted";
}

}  // namespace
}  // namespace sluice::runtime
