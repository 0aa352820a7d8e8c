// S3Client: the handful of S3 calls the runtime's object source and sink need
// (ListObjectsV2, GET, HEAD, PUT with conditions, DELETE, server-side copy,
// object tagging), signed with SigV4 and sent through http::HttpClient.
// Works with AWS S3 and MinIO. Thread-safe (stateless apart from its options).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "http/http_client.h"
#include "objectstore/sigv4.h"

namespace sluice::objectstore {

struct S3Options {
  std::string endpoint;  // http(s)://host:port
  std::string bucket;
  SigV4Credentials credentials;
  bool pathStyle = true;  // false: bucket.host virtual-hosted addressing
  std::chrono::milliseconds timeout{30'000};
};

struct S3Object {
  std::string key;
  std::string etag;  // without quotes
  int64_t size = 0;
  std::string lastModified;  // as the server wrote it (ISO 8601)
  std::string versionId;     // x-amz-version-id of a GET/HEAD on a versioned bucket; empty otherwise
  std::string contentType;   // of a GET/HEAD
};

struct S3ListPage {
  std::vector<S3Object> objects;
  std::string nextContinuationToken;  // empty: last page
};

struct S3PutConditions {
  bool ifNoneMatchAny = false;  // If-None-Match: * — create only if absent (412 otherwise)
  std::string ifMatchEtag;      // If-Match: only if the current ETag is this
};

class S3Client {
 public:
  S3Client(S3Options options, std::shared_ptr<http::HttpClient> http, const Clock& clock);

  Result<S3ListPage> list(const std::string& prefix, const std::string& continuationToken, int maxKeys = 1000);
  // The object's bytes (and its ETag into *etag when given); kNotFound when absent.
  Result<std::string> get(const std::string& key, std::string* etag = nullptr);
  // The bytes, with the ETag, version id and content type of what was read into *meta.
  Result<std::string> get(const std::string& key, S3Object& meta);
  Result<S3Object> head(const std::string& key);
  // kFailedPrecondition when a condition did not hold (HTTP 412).
  Status put(const std::string& key, const std::string& body, const S3PutConditions& conditions = {});
  // Succeeds when the key is already absent.
  Status remove(const std::string& key);
  Status copy(const std::string& fromKey, const std::string& toKey);
  Status tag(const std::string& key, const std::string& tagKey, const std::string& tagValue);

  // Creates the bucket (tests and first-run setup); OK when this owner has it already.
  Status createBucket();
  // Turns on versioning for the bucket (PUT ?versioning): tests of versionId.
  Status enableVersioning();

  std::string describe(const std::string& key) const { return "s3://" + options_.bucket + "/" + key; }
  // The object's HTTP(S) URL on this endpoint, addressed as the client sends (path or virtual-hosted style).
  std::string objectUrl(const std::string& key) const;

 private:
  Result<http::Response> send(const std::string& method, const std::string& key,
                              std::map<std::string, std::string> query, std::map<std::string, std::string> headers,
                              const std::string& body);

  S3Options options_;
  std::shared_ptr<http::HttpClient> http_;
  const Clock& clock_;
  std::string scheme_;  // "http://"
  std::string host_;    // host[:port] as sent (and signed)
};

// Parses a ListObjectsV2 answer; keys are XML-unescaped.
Result<S3ListPage> parseListObjectsV2(const std::string& xml);

// The S3 <Code>/<Message> of an error body, or the status alone.
Status s3Error(const http::Response& response, const std::string& what);

}  // namespace sluice::objectstore
