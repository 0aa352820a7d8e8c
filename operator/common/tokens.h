// The shared secrets that guard a replica's endpoints, and how they are
// checked. Two per namespace:
//   - the control token (random, in the namespace's Secret
//     sluice-control-token, key "token"): /specialize and /drain; only the
//     operator holds it.
//   - the invoke token: /invoke on the data port; held by the gateway and the
//     operator (cron ticks). It is HMAC-SHA256(master key, namespace), so the
//     gateway derives every namespace's token from the one master key mounted
//     into its pod and never reads Secrets; the operator writes the derived
//     token into the namespace's Secret (key "invoke") for its replicas.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice {

// The header a caller of /invoke sends its invoke token in. A dedicated
// header, not Authorization: the gateway forwards a client's Authorization to
// the handler untouched, and strips every client X-Sluice-* header.
inline constexpr const char* kInvokeTokenHeader = "X-Sluice-Invoke-Token";
// Environment variables the runtime reads its tokens from once and scrubs.
inline constexpr const char* kControlTokenEnv = "SLUICE_SPECIALIZE_TOKEN";
inline constexpr const char* kInvokeTokenEnv = "SLUICE_INVOKE_TOKEN";
// The control port's serving certificate and key (PEM), taken and scrubbed the same way.
inline constexpr const char* kControlTlsCertificateEnv = "SLUICE_CONTROL_TLS_CERT";
inline constexpr const char* kControlTlsKeyEnv = "SLUICE_CONTROL_TLS_KEY";

// a == b, in time that depends only on the lengths, so a caller cannot find a
// token's prefix by timing refusals (CRYPTO_memcmp underneath).
bool constantTimeEquals(std::string_view a, std::string_view b);

// HMAC-SHA256(key, message) as 64 lower-case hex digits.
std::string hmacSha256Hex(std::string_view key, std::string_view message);

// The invoke token of namespace `ns` under `masterKey`; "" when the master
// key is empty (invocation then stays refused).
std::string invokeTokenFor(std::string_view masterKey, std::string_view ns);

// The invoke master keys: the current one and, while a new key rolls out, the
// one before it. Kept in the Secret sluice-invoke-key (keys "key" and
// "previous") of the operator's namespace, mounted into the operator's and the
// gateway's pods.
struct InvokeKeys {
  std::string current;
  std::string previous;  // "" when none
};

// DIR/key and, when present, DIR/previous (trailing whitespace trimmed).
// An error names the file when DIR/key cannot be read or is empty.
Result<InvokeKeys> readInvokeKeys(const std::string& dir);

// The invoke master keys in use, followed without a restart: opened on a
// folder (the mounted Secret, which the kubelet updates in place), keys()
// reads it again at most every `recheck`, so a new key (or a dropped
// previous one) takes effect within that much of the kubelet's update. A
// folder that cannot be read keeps the last good keys (logged once per
// change of the error). Copies share one state. Thread-safe.
class InvokeKeyRing {
 public:
  // Fixed keys, never read again ("" and "": no keys).
  InvokeKeyRing(std::string current = "", std::string previous = "");  // NOLINT(google-explicit-constructor)
  // The keys of `dir` now (an error as readInvokeKeys'), then followed.
  static Result<InvokeKeyRing> open(const std::string& dir, const Clock& clock = realClock(),
                                    Clock::Duration recheck = std::chrono::seconds(10));

  // Reads the folder again first when a recheck is due (as refresh()).
  InvokeKeys keys() const;
  // Reads the folder again when a recheck is due: what a caller that only
  // asks generation() on its hot path runs from a background thread instead.
  void refresh() const;
  // Moves on every change of the keys that keys() or refresh() has seen, so
  // a cache of derived tokens knows to go. Reads nothing and takes no lock:
  // one atomic load, for a request path.
  uint64_t generation() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// "a,b" -> {"a", "b"}: a token list (current, then previous while a key or
// token rolls out), without empty items.
std::vector<std::string> splitTokenList(std::string_view list);

// A public name of a token: the first 16 hex digits of a keyed SHA-256 of
// it. Naming a 256-bit random or derived token this way tells nothing of it;
// pods carry the names of the tokens they start with (platform/kube/control_token.h).
std::string tokenId(std::string_view token);

// What namespace `ns` uses as its invoke token list, "current[,previous]":
// callers (the gateway, the operator) send it in X-Sluice-Invoke-Token,
// replicas accept any of its items, so a replica started before a key change
// and one started after both answer during the roll-out. "" without keys.
std::string invokeTokensFor(const InvokeKeys& keys, std::string_view ns);

}  // namespace sluice
