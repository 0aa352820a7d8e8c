#include "common/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/logging.h"

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

std::vector<std::string> splitTokenList(std::string_view list) {
  std::vector<std::string> tokens;
  while (!list.empty()) {
    const size_t comma = std::min(list.find(','), list.size());
    if (comma > 0) tokens.emplace_back(list.substr(0, comma));
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
  return tokens;
}

std::string tokenId(std::string_view token) { return hmacSha256Hex("sluice token id", token).substr(0, 16); }

struct InvokeKeyRing::State {
  std::string dir;  // "" for fixed keys
  const Clock* clock = nullptr;
  Clock::Duration recheck{};
  mutable std::mutex mu;
  InvokeKeys keys;            // guarded by mu
  Clock::TimePoint readAt{};  // guarded by mu
  std::string lastError;      // guarded by mu
  std::atomic<uint64_t> generation{0};
};

InvokeKeyRing::InvokeKeyRing(std::string current, std::string previous) : state_(std::make_shared<State>()) {
  state_->keys = {std::move(current), std::move(previous)};
}

Result<InvokeKeyRing> InvokeKeyRing::open(const std::string& dir, const Clock& clock, Clock::Duration recheck) {
  auto keys = readInvokeKeys(dir);
  if (!keys.isOk()) return keys.status();
  InvokeKeyRing ring(keys->current, keys->previous);
  ring.state_->dir = dir;
  ring.state_->clock = &clock;
  ring.state_->recheck = recheck;
  ring.state_->readAt = clock.now();
  return ring;
}

InvokeKeys InvokeKeyRing::keys() const {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  if (s.dir.empty() || s.clock->now() - s.readAt < s.recheck) return s.keys;
  s.readAt = s.clock->now();
  auto read = readInvokeKeys(s.dir);
  if (!read.isOk()) {
    if (read.status().message() != s.lastError) {
      SLUICE_LOG_WARN("--invoke-key-dir: {}; keeping the keys in use", read.status().message());
      s.lastError = read.status().message();
    }
    return s.keys;
  }
  s.lastError.clear();
  if (read->current != s.keys.current || read->previous != s.keys.previous) {
    SLUICE_LOG_INFO("invoke master keys changed: now key {}{}", tokenId(read->current),
                    read->previous.empty() ? std::string() : ", previous " + tokenId(read->previous));
    s.keys = *read;
    s.generation.fetch_add(1, std::memory_order_release);
  }
  return s.keys;
}

void InvokeKeyRing::refresh() const { (void)keys(); }

uint64_t InvokeKeyRing::generation() const { return state_->generation.load(std::memory_order_acquire); }

std::string invokeTokensFor(const InvokeKeys& keys, std::string_view ns) {
  std::string tokens = invokeTokenFor(keys.current, ns);
  if (!tokens.empty() && !keys.previous.empty() && keys.previous != keys.current) {
    tokens += "," + invokeTokenFor(keys.previous, ns);
  }
  return tokens;
}

}  // namespace sluice
