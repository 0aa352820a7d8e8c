// ControlTokens: the secrets that guard each namespace's replicas, kept in
// the namespace's Secret "sluice-control-token":
//   token     the control token (32 random bytes, hex): /specialize, /drain
//   previous  the control token before the last rotation ("" at first)
//   invoke    the tokens /invoke accepts, "current[,previous]": HMAC-SHA256
//             of the namespace under the current (and previous) invoke
//             master key (common/tokens.h)
// Pods take `token` and `invoke` as environment variables at start (and the
// runtime scrubs them), so a replica knows the tokens of its start: the
// operator's calls try the current control token, then the previous one,
// which keeps replicas and warm pods started before a rotation reachable
// until the next. ensure() creates the Secret when absent and caches it;
// reconcile() (the token controller, on the leader) recreates a deleted
// Secret with the cached tokens, so running replicas keep working, rotates on
// the annotation sluice.io/rotate or every rotationPeriod, and follows a new
// invoke master key (rewriting `invoke`). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "common/tokens.h"
#include "kube/resource_client.h"

namespace sluice::platform {

inline constexpr const char* kControlTokenSecret = "sluice-control-token";
inline constexpr const char* kControlTokenKey = "token";
inline constexpr const char* kPreviousControlTokenKey = "previous";
inline constexpr const char* kInvokeTokenKey = "invoke";
// Set (any value) on the Secret to rotate the control token now; removed once done.
inline constexpr const char* kRotateAnnotation = "sluice.io/rotate";
// When the control token was made (seconds since the epoch): a scheduled rotation counts from it.
inline constexpr const char* kRotatedAtAnnotation = "sluice.io/rotated-at";

struct NamespaceTokens {
  std::string control;
  std::string previousControl;  // "" when never rotated
  std::string invoke;           // what replicas accept: "current[,previous]"
  int64_t rotatedAt = 0;        // seconds since the epoch
};

struct ControlTokensOptions {
  InvokeKeys invokeKeys;                                     // none: replicas get no invoke token and refuse /invoke
  Clock::Duration rotationPeriod = Clock::Duration::zero();  // zero: only on demand
};

class ControlTokens {
 public:
  explicit ControlTokens(kube::ResourceClient& client, ControlTokensOptions options = {}, Clock& clock = realClock())
      : client_(client), options_(std::move(options)), clock_(clock) {}

  // The namespace's tokens, creating its Secret when absent.
  Result<NamespaceTokens> ensure(const std::string& ns);

  // Level-triggered upkeep of the namespace's Secret (see above).
  Status reconcile(const std::string& ns);

  // The invoke tokens of `ns` ("current[,previous]"): what replicas accept
  // and what the operator sends with its cron ticks.
  std::string invokeTokensFor(const std::string& ns) const;

 private:
  Result<NamespaceTokens> fresh(const std::string& ns, const NamespaceTokens* before);
  Status create(const std::string& ns, const NamespaceTokens& tokens);
  void remember(const std::string& ns, const NamespaceTokens& tokens);

  kube::ResourceClient& client_;
  const ControlTokensOptions options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, NamespaceTokens> tokens_;  // guarded by mu_
};

}  // namespace sluice::platform
