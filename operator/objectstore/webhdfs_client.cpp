#include "objectstore/webhdfs_client.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "objectstore/sigv4.h"

namespace sluice::objectstore {

namespace {

using nlohmann::json;

// Exception class names (RemoteException.exception) with a meaning callers act on.
StatusCode codeForException(const std::string& exception, int httpStatus) {
  if (exception == "FileNotFoundException") return StatusCode::kNotFound;
  if (exception == "FileAlreadyExistsException" || exception == "AlreadyBeingCreatedException")
    return StatusCode::kAlreadyExists;
  if (exception == "AccessControlException" || exception == "SecurityException") return StatusCode::kPermissionDenied;
  if (exception == "IllegalArgumentException" || exception == "UnsupportedOperationException")
    return StatusCode::kInvalidArgument;
  switch (httpStatus) {
    case 400: return StatusCode::kInvalidArgument;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 429: return StatusCode::kResourceExhausted;
    default: return StatusCode::kUnavailable;
  }
}

bool isBooleanTrue(const std::string& body) {
  try {
    json parsed = json::parse(body);
    return parsed.at("boolean").get<bool>();
  } catch (const json::exception&) {
    return false;
  }
}

}  // namespace

bool isWaitingFile(const WebHdfsFileStatus& entry) {
  return !entry.directory && !entry.name.empty() && entry.name[0] != '.' && entry.name[0] != '_';
}

namespace {

// One FileStatus object of a LISTSTATUS or GETFILESTATUS answer.
WebHdfsFileStatus fileStatusFrom(const json& status) {
  WebHdfsFileStatus entry;
  entry.name = status.at("pathSuffix").get<std::string>();
  entry.directory = status.at("type").get<std::string>() == "DIRECTORY";
  entry.length = status.value("length", int64_t{0});
  entry.modificationTimeMs = status.value("modificationTime", int64_t{0});
  return entry;
}

}  // namespace

Result<std::vector<WebHdfsFileStatus>> parseListStatus(const std::string& text) {
  try {
    json body = json::parse(text);
    std::vector<WebHdfsFileStatus> entries;
    for (const json& status : body.at("FileStatuses").at("FileStatus")) entries.push_back(fileStatusFrom(status));
    return entries;
  } catch (const json::exception& e) {
    return internalError(std::string("not a WebHDFS LISTSTATUS answer: ") + e.what());
  }
}

Status webHdfsError(const http::Response& response, const std::string& what) {
  std::string exception;
  std::string message;
  try {
    json body = json::parse(response.body);
    const json& remote = body.at("RemoteException");
    exception = remote.value("exception", "");
    message = remote.value("message", "");
    message = message.substr(0, message.find('\n'));  // drop the server's Java stack
  } catch (const json::exception&) {
    // Not a RemoteException (a proxy's page, an empty body): the status says it all.
  }
  std::string text = what + ": HTTP " + std::to_string(response.status) + (exception.empty() ? "" : " " + exception) +
                     (message.empty() ? "" : ": " + message);
  if (response.status == 401) {
    text +=
        " (the NameNode demands Kerberos/SPNEGO or a delegation token; only simple auth with user.name is "
        "supported)";
  }
  return Status(codeForException(exception, response.status), text);
}

WebHdfsClient::WebHdfsClient(WebHdfsOptions options, std::shared_ptr<http::HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)), base_(options_.endpoint) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

std::string WebHdfsClient::url(const std::string& path, const std::string& op, const std::string& extraQuery) const {
  std::string out = base_ + "/webhdfs/v1" + percentEncode(path, {.keepSlash = true}) + "?op=" + op;
  if (!options_.user.empty()) out += "&user.name=" + percentEncode(options_.user);
  if (!extraQuery.empty()) out += "&" + extraQuery;
  return out;
}

Result<http::Response> WebHdfsClient::send(const std::string& method, const std::string& url, const std::string& body) {
  http::Request request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.timeout = options_.timeout;
  return http_->send(request);
}

Result<std::string> WebHdfsClient::dataNodeLocation(const std::string& method, const std::string& nameNodeUrl,
                                                    const std::string& what) {
  auto answer = send(method, nameNodeUrl + "&noredirect=true");
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  try {
    return json::parse(answer->body).at("Location").get<std::string>();
  } catch (const json::exception& e) {
    return internalError(what + ": the NameNode named no DataNode location: " + e.what());
  }
}

Result<std::vector<WebHdfsFileStatus>> WebHdfsClient::list(const std::string& directory) {
  const std::string what = "LISTSTATUS " + describe(directory);
  auto answer = send("GET", url(directory, "LISTSTATUS"));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  auto entries = parseListStatus(answer->body);
  if (!entries.isOk()) return entries.status().withContext(what);
  return entries;
}

Result<WebHdfsFileStatus> WebHdfsClient::status(const std::string& path) {
  const std::string what = "GETFILESTATUS " + describe(path);
  auto answer = send("GET", url(path, "GETFILESTATUS"));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  try {
    return fileStatusFrom(json::parse(answer->body).at("FileStatus"));
  } catch (const json::exception& e) {
    return internalError(what + ": not a WebHDFS GETFILESTATUS answer: " + e.what());
  }
}

Status WebHdfsClient::setModificationTime(const std::string& path, int64_t epochMs) {
  const std::string what = "SETTIMES " + describe(path);
  auto answer = send("PUT", url(path, "SETTIMES", "modificationtime=" + std::to_string(epochMs)));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  return Status::ok();
}

Result<std::string> WebHdfsClient::read(const std::string& path) {
  const std::string what = "OPEN " + describe(path);
  auto location = dataNodeLocation("GET", url(path, "OPEN"), what);
  if (!location.isOk()) return location.status();
  auto answer = send("GET", *location);
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  return std::move(answer->body);
}

Status WebHdfsClient::create(const std::string& path, const std::string& body, bool overwrite) {
  const std::string what = "CREATE " + describe(path);
  auto location = dataNodeLocation("PUT", url(path, "CREATE", overwrite ? "overwrite=true" : "overwrite=false"), what);
  if (!location.isOk()) return location.status();
  // The NameNode answers before anything exists; the DataNode's create is the
  // one that fails when another writer got there first.
  auto answer = send("PUT", *location, body);
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 201 && answer->status != 200) return webHdfsError(*answer, what);
  return Status::ok();
}

Status WebHdfsClient::rename(const std::string& from, const std::string& to) {
  const std::string what = "RENAME " + describe(from) + " -> " + to;
  auto answer = send("PUT", url(from, "RENAME", "destination=" + percentEncode(to, {.keepSlash = true})));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  if (isBooleanTrue(answer->body)) return Status::ok();
  // HDFS says only "false": the source is gone, or the destination exists or lacks its parent.
  return Status(StatusCode::kAlreadyExists,
                what + ": refused (the source is gone, or the destination exists or has no parent directory)");
}

Status WebHdfsClient::remove(const std::string& path) {
  const std::string what = "DELETE " + describe(path);
  auto answer = send("DELETE", url(path, "DELETE", "recursive=false"));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  return Status::ok();  // {"boolean":false} means it was already gone
}

Status WebHdfsClient::mkdirs(const std::string& path) {
  const std::string what = "MKDIRS " + describe(path);
  auto answer = send("PUT", url(path, "MKDIRS"));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  if (!isBooleanTrue(answer->body)) return unavailable(what + ": the NameNode answered false");
  return Status::ok();
}

Status WebHdfsClient::setXAttr(const std::string& path, const std::string& name, const std::string& value) {
  const std::string what = "SETXATTR " + describe(path);
  // Values are sent as quoted text ("..."): WebHDFS's text encoding of an xattr value.
  std::string query = "xattr.name=" + percentEncode("user." + name) +
                      "&xattr.value=" + percentEncode("\"" + value + "\"") + "&flag=CREATE";
  auto answer = send("PUT", url(path, "SETXATTR", query));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status == 200) return Status::ok();
  Status failed = webHdfsError(*answer, what);
  if (failed.message().find("XAttr") == std::string::npos) return failed;
  // Already set: replace it.
  query.replace(query.find("flag=CREATE"), 11, "flag=REPLACE");
  answer = send("PUT", url(path, "SETXATTR", query));
  if (!answer.isOk()) return answer.status().withContext(what);
  if (answer->status != 200) return webHdfsError(*answer, what);
  return Status::ok();
}

}  // namespace sluice::objectstore
