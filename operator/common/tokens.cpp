#include "common/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>

namespace sluice {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths are not secret (every token has a fixed size); contents are.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::string invokeTokenFor(std::string_view masterKey, std::string_view ns) {
  if (masterKey.empty()) return "";
  // A purpose prefix, so the same master key could derive other secrets without collisions.
  return hmacSha256Hex(masterKey, "sluice-invoke:" + std::string(ns));
}

namespace {

Result<std::string> readTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, "cannot read \"" + path + "\"");
  std::stringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace

Result<InvokeKeys> readInvokeKeys(const std::string& dir) {
  InvokeKeys keys;
  auto current = readTrimmed(dir + "/key");
  if (!current.isOk()) return current.status();
  if (current->empty()) return invalidArgument("\"" + dir + "/key\" is empty");
  keys.current = *current;
  if (auto previous = readTrimmed(dir + "/previous"); previous.isOk()) keys.previous = *previous;
  return keys;
}

std::string invokeTokensFor(const InvokeKeys& keys, std::string_view ns) {
  std::string tokens = invokeTokenFor(keys.current, ns);
  if (!tokens.empty() && !keys.previous.empty() && keys.previous != keys.current) {
    tokens += "," + invokeTokenFor(keys.previous, ns);
  }
  return tokens;
}

}  // namespace sluice
