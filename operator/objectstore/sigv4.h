// AWS Signature Version 4 for S3-compatible requests (AWS S3, MinIO).
//
// Shared by everything that talks to an object store (the object-count scaler
// now, runtime object sources/sinks later) so there is one signer. Pure
// functions over OpenSSL's SHA-256/HMAC; thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace sluice::objectstore {

struct SigV4Credentials {
  std::string accessKey;
  std::string secretKey;
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct SigV4Request {
  std::string method = "GET";
  std::string canonicalPath = "/";           // already URI-encoded, e.g. "/bucket"
  std::map<std::string, std::string> query;  // raw names and values; encoded while signing
  // Lower-case names; must include "host". x-amz-date and x-amz-content-sha256 are added by sign().
  std::map<std::string, std::string> headers;
  std::string payloadSha256Hex;  // empty: the empty body's hash
};

// Hex SHA-256 of `data`.
std::string sha256Hex(const std::string& data);
// "20130524T000000Z" for a UTC time.
std::string amzDate(std::chrono::system_clock::time_point at);
// The text of every <tag>...</tag> of an S3 XML answer, in order (not unescaped).
// S3's answers are flat enough that this is all the XML reading needed; the
// object client and the object-count scaler share it.
std::vector<std::string> xmlElements(const std::string& xml, const std::string& tag);
// The canonical query string: sorted by name, both sides encoded.
std::string canonicalQuery(const std::map<std::string, std::string>& query);

// Adds x-amz-date, x-amz-content-sha256 and authorization to request.headers.
void sign(SigV4Request& request, const SigV4Credentials& credentials, std::chrono::system_clock::time_point at);

}  // namespace sluice::objectstore
