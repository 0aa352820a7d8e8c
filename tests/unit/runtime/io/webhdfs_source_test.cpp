// WebHdfsSource's claim protocol, driven by scripted WebHDFS answers: an
// abandoned claim (modification time older than claimTtl) is renamed away and created anew by
// exactly one replica; a claim refreshed by its owner between our read and
// our rename is put back and left alone; drain releases our claims; in-progress uploads ('_' names) and
// directories are never taken; a tagged file gets its xattr and its claim
// becomes a "done" marker. Real HDFS behaviour (two replicas, kill -9) is
// shown in tests/integration/runtime_io/runtime_binary_webhdfs_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "object_source_test_util.h"
#include "runtime/sources/webhdfs_source.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using sluice::testing::FakeClock;
using sluice::testing::FakeHttpClient;

constexpr const char* kNameNode = "http://127.0.0.1:9870";

http::Response listing() {
  return {200,
          {},
          R"({"FileStatuses":{"FileStatus":[
            {"pathSuffix":".sluice-claims","type":"DIRECTORY","length":0,"modificationTime":1},
            {"pathSuffix":"_COPYING_b.gz","type":"FILE","length":7,"modificationTime":2},
            {"pathSuffix":"a.gz","type":"FILE","length":5,"modificationTime":1796089374940}]}})"};
}
http::Response fileStatus(int64_t modificationTimeMs) {
  return {200,
          {},
          R"({"FileStatus":{"pathSuffix":"","type":"FILE","length":8,"modificationTime":)" +
              std::to_string(modificationTimeMs) + "}}"};
}
http::Response ok() { return {200, {}, R"({"boolean":true})"}; }
http::Response location() { return {200, {}, R"({"Location":"http://127.0.0.1:9864/dn"})"}; }
http::Response exists() {
  return {403, {}, R"({"RemoteException":{"exception":"FileAlreadyExistsException","message":"exists"}})"};
}

// "METHOD /path?op=OP" for NameNode requests, "METHOD datanode" for the rest.
std::string describe(const http::Request& r) {
  if (r.url.rfind(kNameNode, 0) != 0) return r.method + " datanode";
  std::string rest = r.url.substr(std::string(kNameNode).size() + std::string("/webhdfs/v1").size());
  size_t amp = rest.find("&user.name");
  return r.method + " " + rest.substr(0, amp);
}

struct SourceFixture {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  FakeClock clock;
  RecordingDispatcher dispatcher;
  std::unique_ptr<WebHdfsSource> source;

  explicit SourceFixture(WebHdfsAfterProcessing after) {
    WebHdfsSourceOptions options;
    options.triggerName = "uploads";
    options.directory = "/logs/in/";
    options.afterProcessing = after;
    options.pollInterval = 1s;
    options.claimTtl = 30s;
    options.owner = "me-1";
    source = std::make_unique<WebHdfsSource>(
        options, std::make_shared<objectstore::WebHdfsClient>(objectstore::WebHdfsOptions{kNameNode, "etl"}, http),
        clock);
  }
  int64_t heartbeat(std::chrono::seconds ago) {
    return std::chrono::duration_cast<std::chrono::milliseconds>((clock.wallNow() - ago).time_since_epoch()).count();
  }
  void started() {
    http->answer(listing());  // probe
    http->answer(ok());       // MKDIRS .sluice-claims
    http->answer(ok());       // MKDIRS .sluice-failed
  }
};

TEST(WebHdfsSourceTest, AbandonedClaimIsRenamedAwayAndTakenOverThenTheFileIsTagged) {
  SourceFixture f(WebHdfsAfterProcessing::kTag);
  f.started();
  f.http->answer(listing());
  f.http->answer(location());
  f.http->answer(exists());  // our create: someone's claim is there
  const int64_t stale = f.heartbeat(31s);
  f.http->answer(fileStatus(stale));
  f.http->answer(location());
  f.http->answer(http::Response{200, {}, "other-7\n"});  // not a done marker
  f.http->answer(ok());                                  // RENAME it away: we won
  f.http->answer(fileStatus(stale));                     // what we renamed is that stale claim
  f.http->answer(ok());                                  // DELETE it
  f.http->answer(location());
  f.http->answer(http::Response{201, {}, ""});  // our claim
  f.http->answer(http::Response{200, {}, ""});  // its heartbeat
  f.http->answer(location());
  f.http->answer(http::Response{200, {}, "hello"});  // the file
  ASSERT_TRUE(f.source->start(f.dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return f.dispatcher.count() == 1; }));
  Event event = f.dispatcher.event(0);
  EXPECT_EQ(event.id, "webhdfs:/logs/in/a.gz@1796089374940-5");
  EXPECT_EQ(event.source, "webhdfs");
  EXPECT_EQ(event.key, "a.gz");
  EXPECT_EQ(event.data, "hello");

  f.http->answer(ok());  // SETXATTR
  f.http->answer(location());
  f.http->answer(http::Response{201, {}, ""});  // the done marker
  f.dispatcher.complete(0, Outcome::kAcked);
  std::vector<std::string> expected = {
      "GET /logs/in?op=LISTSTATUS",
      "PUT /logs/in/.sluice-claims?op=MKDIRS",
      "PUT /logs/in/.sluice-failed?op=MKDIRS",
      "GET /logs/in?op=LISTSTATUS",
      "PUT /logs/in/.sluice-claims/a.gz?op=CREATE",
      "PUT datanode",
      "GET /logs/in/.sluice-claims/a.gz?op=GETFILESTATUS",
      "GET /logs/in/.sluice-claims/a.gz?op=OPEN",
      "GET datanode",
      "PUT /logs/in/.sluice-claims/a.gz?op=RENAME",
      "GET /logs/in/.sluice-claims/a.gz.stale.me-1?op=GETFILESTATUS",
      "DELETE /logs/in/.sluice-claims/a.gz.stale.me-1?op=DELETE",
      "PUT /logs/in/.sluice-claims/a.gz?op=CREATE",
      "PUT datanode",
      "PUT /logs/in/.sluice-claims/a.gz?op=SETTIMES",
      "GET /logs/in/a.gz?op=OPEN",
      "GET datanode",
      "PUT /logs/in/a.gz?op=SETXATTR",
      "PUT /logs/in/.sluice-claims/a.gz?op=CREATE",
      "PUT datanode",
      "PUT /logs/in/.sluice-claims/a.gz?op=SETTIMES",
  };
  auto requests = f.http->requests();
  EXPECT_EQ(describeAll(requests, describe), expected);
  ASSERT_EQ(requests.size(), expected.size());
  EXPECT_NE(requests[4].url.find("overwrite=false"), std::string::npos) << "claims are exclusive creates";
  EXPECT_EQ(requests[13].body, "me-1\n") << "the claim names its new owner";
  EXPECT_NE(requests[14].url.find("modificationtime=" + std::to_string(f.heartbeat(0s))), std::string::npos)
      << requests[14].url;
  EXPECT_NE(requests[17].url.find("xattr.name=user.sluice-processed&xattr.value=%22true%22"), std::string::npos)
      << requests[17].url;
  EXPECT_NE(requests[18].url.find("overwrite=true"), std::string::npos);
  EXPECT_EQ(requests[19].body, "done 1796089374940-5\n");
  EXPECT_NE(requests[20].url.find("modificationtime=0"), std::string::npos) << "a done marker is no live claim";
  (void)f.source->finish(f.clock.now());
}

TEST(WebHdfsSourceTest, AClaimRefreshedBeforeOurRenameIsPutBackAndTheFileLeftAlone) {
  SourceFixture f(WebHdfsAfterProcessing::kDelete);
  f.started();
  f.http->answer(listing());
  f.http->answer(location());
  f.http->answer(exists());
  f.http->answer(fileStatus(f.heartbeat(31s)));  // looks abandoned...
  f.http->answer(ok());                          // RENAME
  f.http->answer(fileStatus(f.heartbeat(0s)));   // ...but was just taken over
  f.http->answer(ok());                          // RENAME back
  ASSERT_TRUE(f.source->start(f.dispatcher).isOk());
  f.clock.waitForSleepers(1);  // the scan ended
  auto requests = describeAll(f.http->requests(), describe);
  ASSERT_EQ(requests.size(), 10u);
  EXPECT_EQ(requests[9], "PUT /logs/in/.sluice-claims/a.gz.stale.me-1?op=RENAME");
  EXPECT_NE(f.http->requests()[9].url.find("destination=/logs/in/.sluice-claims/a.gz"), std::string::npos);
  EXPECT_EQ(f.dispatcher.count(), 0u);
  (void)f.source->finish(f.clock.now());
}

TEST(WebHdfsSourceTest, DrainReleasesOwnClaimsAndALateCompletionLeavesTheFileAlone) {
  SourceFixture f(WebHdfsAfterProcessing::kDelete);
  f.started();
  f.http->answer(listing());
  f.http->answer(location());
  f.http->answer(http::Response{201, {}, ""});  // our claim
  f.http->answer(ok());                         // its heartbeat
  f.http->answer(location());
  f.http->answer(http::Response{200, {}, "hello"});
  ASSERT_TRUE(f.source->start(f.dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return f.dispatcher.count() == 1; }));
  f.clock.waitForSleepers(1);
  // Drain before the event finished: the claim is released for other replicas
  // and a late completion leaves the file alone.
  f.source->stopFetching();
  ASSERT_TRUE(f.source->finish(f.clock.now()).isOk());
  f.dispatcher.complete(0, Outcome::kAcked);
  auto requests = describeAll(f.http->requests(), describe);
  ASSERT_EQ(requests.size(), 10u);
  EXPECT_EQ(requests[9], "DELETE /logs/in/.sluice-claims/a.gz?op=DELETE");
}

TEST(WebHdfsSourceTest, StartRefusesARelativeDirectoryAndReportsAMissingOne) {
  SourceFixture f(WebHdfsAfterProcessing::kDelete);
  f.http->answer(http::Response{
      404,
      {},
      R"({"RemoteException":{"exception":"FileNotFoundException","message":"File /logs/in does not exist."}})"});
  Status started = f.source->start(f.dispatcher);
  EXPECT_EQ(started.code(), StatusCode::kNotFound);
  EXPECT_EQ(started.message(),
            "webhdfs trigger \"uploads\": LISTSTATUS webhdfs:/logs/in: HTTP 404 FileNotFoundException: File /logs/in "
            "does not exist.");

  WebHdfsSourceOptions relative;
  relative.triggerName = "t";
  relative.directory = "logs";
  FakeClock clock;
  WebHdfsSource source(relative,
                       std::make_shared<objectstore::WebHdfsClient>(objectstore::WebHdfsOptions{kNameNode, ""},
                                                                    std::make_shared<FakeHttpClient>()),
                       clock);
  RecordingDispatcher dispatcher;
  EXPECT_EQ(source.start(dispatcher).message(),
            "webhdfs trigger \"t\": the directory must be an absolute HDFS path, got \"logs\"");
}

}  // namespace
}  // namespace sluice::runtime
