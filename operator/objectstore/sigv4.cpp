#include "objectstore/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdio>
#include <ctime>

namespace sluice::objectstore {

namespace {

std::string toHex(const unsigned char* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xF];
  }
  return out;
}

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
  return toHex(digest, sizeof(digest));
}

std::string amzDate(std::chrono::system_clock::time_point at) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

std::string uriEncode(const std::string& text, bool keepSlash) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keepSlash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string canonicalQuery(const std::map<std::string, std::string>& query) {
  std::map<std::string, std::string> encoded;
  for (const auto& [name, value] : query) encoded[uriEncode(name, false)] = uriEncode(value, false);
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
  request.headers["authorization"] =
      "AWS4-HMAC-SHA256 Credential=" + credentials.accessKey + "/" + scope + ", SignedHeaders=" + signedHeaders +
      ", Signature=" + toHex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace sluice::objectstore
