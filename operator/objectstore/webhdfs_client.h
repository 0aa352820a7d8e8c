// WebHdfsClient: the WebHDFS REST calls the runtime's object source needs
// (LISTSTATUS, OPEN, CREATE, RENAME, DELETE, MKDIRS, SETXATTR), sent through
// http::HttpClient to a NameNode's HTTP address.
//
// Authentication is WebHDFS "simple" auth: the user name goes in `user.name`.
// Kerberos (SPNEGO) and delegation tokens are not supported. OPEN and CREATE
// ask the NameNode for the DataNode address (noredirect=true) and then talk to
// that DataNode, so no HTTP redirect handling is needed and the DataNode's
// address is exactly what the NameNode advertises.
// Thread-safe (stateless apart from its options).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http_client.h"

namespace sluice::objectstore {

struct WebHdfsOptions {
  std::string endpoint;  // http(s)://namenode:port (the NameNode's HTTP address)
  std::string user;      // user.name; empty: the NameNode's anonymous user (dr.who)
  std::chrono::milliseconds timeout{30'000};
};

// One entry of a LISTSTATUS answer.
struct WebHdfsFileStatus {
  std::string name;  // pathSuffix: the name inside the listed directory
  bool directory = false;
  int64_t length = 0;
  int64_t modificationTimeMs = 0;  // epoch milliseconds
};

class WebHdfsClient {
 public:
  WebHdfsClient(WebHdfsOptions options, std::shared_ptr<http::HttpClient> http);

  // The entries directly in `directory`; kNotFound when it does not exist.
  Result<std::vector<WebHdfsFileStatus>> list(const std::string& directory);
  // One entry's status (GETFILESTATUS; its name is empty); kNotFound when absent.
  Result<WebHdfsFileStatus> status(const std::string& path);
  // Sets the modification time (SETTIMES), e.g. a claim's heartbeat; kNotFound when absent.
  Status setModificationTime(const std::string& path, int64_t epochMs);
  // The file's bytes; kNotFound when absent.
  Result<std::string> read(const std::string& path);
  // Creates `path` (and missing parents) with `body`. Without overwrite, an
  // existing file is kAlreadyExists: HDFS decides that atomically, so of
  // several concurrent creates exactly one succeeds.
  Status create(const std::string& path, const std::string& body, bool overwrite);
  // Renames; kNotFound when `from` is absent, kAlreadyExists when `to` exists
  // or its parent is missing (HDFS answers both with a plain false).
  Status rename(const std::string& from, const std::string& to);
  // Succeeds when `path` is already absent.
  Status remove(const std::string& path);
  Status mkdirs(const std::string& path);
  // Sets a "user." extended attribute (created or replaced).
  Status setXAttr(const std::string& path, const std::string& name, const std::string& value);

  std::string describe(const std::string& path) const { return "webhdfs:" + path; }

 private:
  std::string url(const std::string& path, const std::string& op, const std::string& extraQuery = "") const;
  Result<http::Response> send(const std::string& method, const std::string& url, const std::string& body = "");
  // Asks the NameNode where the data goes (noredirect=true); the DataNode URL.
  Result<std::string> dataNodeLocation(const std::string& method, const std::string& nameNodeUrl,
                                       const std::string& what);

  WebHdfsOptions options_;
  std::shared_ptr<http::HttpClient> http_;
  std::string base_;  // endpoint without a trailing slash
};

// Whether a listed entry is a file waiting to be processed: a file, not a
// directory, and not an in-progress upload (Hadoop's convention: names
// starting with '.' or '_'). The object source and the object-count scaler
// agree on this.
bool isWaitingFile(const WebHdfsFileStatus& entry);

// Parses a LISTSTATUS answer ({"FileStatuses":{"FileStatus":[...]}}).
Result<std::vector<WebHdfsFileStatus>> parseListStatus(const std::string& json);

// The status for a failed WebHDFS answer: its RemoteException's exception and
// message (first line only; HDFS appends a Java stack) under `what`, or the
// HTTP status alone when the body is not a RemoteException.
Status webHdfsError(const http::Response& response, const std::string& what);

}  // namespace sluice::objectstore
