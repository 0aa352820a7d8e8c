#include "objectstore/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdio>
#include <ctime>

#include "common/encoding.h"
#include "common/time.h"

namespace sluice::objectstore {

namespace {

std::string hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

}  // namespace

std::string sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string amzDate(std::chrono::system_clock::time_point at) { return formatUtc(at, "%Y%m%dT%H%M%SZ"); }

std::string canonicalQuery(const std::map<std::string, std::string>& query) {
  std::map<std::string, std::string> encoded;
  for (const auto& [name, value] : query) encoded[percentEncode(name)] = percentEncode(value);
  std::string out;
  for (const auto& [name, value] : encoded) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

void sign(SigV4Request& request, const SigV4Credentials& credentials, std::chrono::system_clock::time_point at) {
  const std::string payloadHash = request.payloadSha256Hex.empty() ? sha256Hex("") : request.payloadSha256Hex;
  const std::string timestamp = amzDate(at);
  const std::string day = timestamp.substr(0, 8);
  request.headers["x-amz-date"] = timestamp;
  request.headers["x-amz-content-sha256"] = payloadHash;

  std::string canonicalHeaders;
  std::string signedHeaders;
  for (const auto& [name, value] : request.headers) {  // std::map: already sorted by name
    if (name == "authorization") continue;
    canonicalHeaders += name + ":" + value + "\n";
    signedHeaders += (signedHeaders.empty() ? "" : ";") + name;
  }
  const std::string canonicalRequest = request.method + "\n" + request.canonicalPath + "\n" +
                                       canonicalQuery(request.query) + "\n" + canonicalHeaders + "\n" + signedHeaders +
                                       "\n" + payloadHash;
  const std::string scope = day + "/" + credentials.region + "/" + credentials.service + "/aws4_request";
  const std::string stringToSign = "AWS4-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + sha256Hex(canonicalRequest);
  std::string key = hmac("AWS4" + credentials.secretKey, day);
  key = hmac(key, credentials.region);
  key = hmac(key, credentials.service);
  key = hmac(key, "aws4_request");
  const std::string signature = hmac(key, stringToSign);
  request.headers["authorization"] = "AWS4-HMAC-SHA256 Credential=" + credentials.accessKey + "/" + scope +
                                     ", SignedHeaders=" + signedHeaders + ", Signature=" + hexEncode(signature);
}

}  // namespace sluice::objectstore
