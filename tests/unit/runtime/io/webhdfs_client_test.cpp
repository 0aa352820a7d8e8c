// WebHdfsClient against scripted WebHDFS answers: LISTSTATUS parsing, the
// RemoteException → Status mapping with the exception and the first line of
// its message (no Java stack), the two-step CREATE/OPEN through the DataNode
// location the NameNode names, and RENAME's bare "false". The same calls
// against a real HDFS are in tests/integration/runtime_io/runtime_binary_webhdfs_test.cpp.
#include <gtest/gtest.h>

#include "fakes/fake_http_client.h"
#include "objectstore/webhdfs_client.h"

namespace sluice::objectstore {
namespace {

using sluice::testing::FakeHttpClient;

TEST(WebHdfsParseTest, ListStatusGivesNamesTypesLengthsAndTimes) {
  auto entries = parseListStatus(R"({"FileStatuses":{"FileStatus":[
    {"accessTime":1,"blockSize":134217728,"childrenNum":0,"fileId":16387,"group":"supergroup","length":3,
     "modificationTime":1796089374940,"owner":"alice","pathSuffix":"a.log.gz","permission":"644",
     "replication":1,"storagePolicy":0,"type":"FILE"},
    {"length":0,"modificationTime":5,"pathSuffix":".sluice-claims","type":"DIRECTORY"},
    {"length":9,"modificationTime":6,"pathSuffix":"_COPYING_b.log","type":"FILE"}]}})");
  ASSERT_TRUE(entries.isOk()) << entries.status().toString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "a.log.gz");
  EXPECT_FALSE((*entries)[0].directory);
  EXPECT_EQ((*entries)[0].length, 3);
  EXPECT_EQ((*entries)[0].modificationTimeMs, 1796089374940);
  EXPECT_TRUE((*entries)[1].directory);
  EXPECT_TRUE(isWaitingFile((*entries)[0]));
  EXPECT_FALSE(isWaitingFile((*entries)[1]));  // a directory
  EXPECT_FALSE(isWaitingFile((*entries)[2]));  // an upload in progress
}

TEST(WebHdfsParseTest, EmptyDirectoryAndMalformedAnswers) {
  auto empty = parseListStatus(R"({"FileStatuses":{"FileStatus":[]}})");
  ASSERT_TRUE(empty.isOk());
  EXPECT_TRUE(empty->empty());
  auto html = parseListStatus("<html>proxy error</html>");
  EXPECT_EQ(html.status().code(), StatusCode::kInternal);
  EXPECT_NE(html.status().message().find("not a WebHDFS LISTSTATUS answer"), std::string::npos);
  auto wrongShape = parseListStatus(R"({"FileStatuses":{}})");
  EXPECT_EQ(wrongShape.status().code(), StatusCode::kInternal);
}

TEST(WebHdfsParseTest, RemoteExceptionsBecomeStatusesWithTheFirstLineOfTheMessage) {
  http::Response notFound{404, {}, R"({"RemoteException":{"exception":"FileNotFoundException",
    "javaClassName":"java.io.FileNotFoundException","message":"File /nope does not exist."}})"};
  Status missing = webHdfsError(notFound, "LISTSTATUS webhdfs:/nope");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "LISTSTATUS webhdfs:/nope: HTTP 404 FileNotFoundException: File /nope does not exist.");

  http::Response exists{403, {}, R"json({"RemoteException":{"exception":"FileAlreadyExistsException",
    "javaClassName":"org.apache.hadoop.fs.FileAlreadyExistsException",
    "message":"/t/a.txt for client 127.0.0.1 already exists\n\tat org.apache.hadoop.hdfs.server.namenode.FSDirWriteFileOp.startFile(FSDirWriteFileOp.java:389)"}})json"};
  Status taken = webHdfsError(exists, "CREATE webhdfs:/t/a.txt");
  EXPECT_EQ(taken.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(
      taken.message(),
      "CREATE webhdfs:/t/a.txt: HTTP 403 FileAlreadyExistsException: /t/a.txt for client 127.0.0.1 already exists");

  http::Response denied{403, {}, R"({"RemoteException":{"exception":"AccessControlException",
    "message":"Permission denied: user=bob, access=WRITE, inode=\"/t\":alice:supergroup:drwxr-xr-x\n\tat x"}})"};
  Status forbidden = webHdfsError(denied, "CREATE webhdfs:/t/b");
  EXPECT_EQ(forbidden.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(forbidden.message(),
            "CREATE webhdfs:/t/b: HTTP 403 AccessControlException: Permission denied: user=bob, access=WRITE, "
            "inode=\"/t\":alice:supergroup:drwxr-xr-x");

  Status kerberos = webHdfsError({401, {}, "Authentication required"}, "LISTSTATUS webhdfs:/in");
  EXPECT_EQ(kerberos.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(kerberos.message(),
            "LISTSTATUS webhdfs:/in: HTTP 401 (the NameNode demands Kerberos/SPNEGO or a delegation token; only "
            "simple auth with user.name is supported)");

  Status busy = webHdfsError({503, {}, ""}, "OPEN webhdfs:/a");
  EXPECT_EQ(busy.code(), StatusCode::kUnavailable);
  EXPECT_EQ(busy.message(), "OPEN webhdfs:/a: HTTP 503");
}

TEST(WebHdfsClientTest, CreateAsksTheNameNodeThenWritesToTheDataNodeWithoutOverwrite) {
  auto http = std::make_shared<FakeHttpClient>();
  WebHdfsClient client({"http://127.0.0.1:9870/", "etl user"}, http);
  http->answer(http::Response{200, {}, R"({"Location":"http://127.0.0.1:9864/webhdfs/v1/in/a%20b?op=CREATE"})"});
  http->answer(http::Response{201, {}, ""});
  ASSERT_TRUE(client.create("/in/a b", "payload", false).isOk());
  auto requests = http->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].url,
            "http://127.0.0.1:9870/webhdfs/v1/in/a%20b?op=CREATE&user.name=etl%20user&overwrite=false&noredirect=true");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[1].url, "http://127.0.0.1:9864/webhdfs/v1/in/a%20b?op=CREATE");
  EXPECT_EQ(requests[1].body, "payload");

  // The DataNode's create is the one that finds the file already there.
  http->answer(http::Response{200, {}, R"({"Location":"http://127.0.0.1:9864/x"})"});
  http->answer(http::Response{
      403, {}, R"({"RemoteException":{"exception":"FileAlreadyExistsException","message":"/in/a b already exists"}})"});
  Status again = client.create("/in/a b", "payload", false);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "CREATE webhdfs:/in/a b: HTTP 403 FileAlreadyExistsException: /in/a b already exists");
}

TEST(WebHdfsClientTest, ReadFollowsTheLocationAndRenameFalseIsAnError) {
  auto http = std::make_shared<FakeHttpClient>();
  WebHdfsClient client({"http://127.0.0.1:9870", ""}, http);
  http->answer(http::Response{200, {}, R"({"Location":"http://127.0.0.1:9864/data"})"});
  http->answer(http::Response{200, {}, "bytes\x01\x02"});
  auto read = client.read("/in/a");
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_EQ(*read, "bytes\x01\x02");
  EXPECT_EQ(http->requests()[0].url, "http://127.0.0.1:9870/webhdfs/v1/in/a?op=OPEN&noredirect=true");

  http->answer(http::Response{200, {}, R"({"boolean":false})"});
  Status renamed = client.rename("/in/a", "/done/a");
  EXPECT_EQ(renamed.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(http->requests()[2].url, "http://127.0.0.1:9870/webhdfs/v1/in/a?op=RENAME&destination=/done/a");

  http->answer(http::Response{200, {}, R"({"Location":"http://127.0.0.1:9864/data"})"});
  http->answer(Result<http::Response>(unavailable("connection refused")));
  EXPECT_EQ(client.read("/in/b").status().message(), "OPEN webhdfs:/in/b: connection refused");
}

}  // namespace
}  // namespace sluice::objectstore
