// ControlTokens: the secrets that guard each namespace's replicas, kept in
// the namespace's Secret "sluice-control-token":
//   token     the control token (32 random bytes, hex): /specialize, /drain
//   previous  the control token before the last rotation ("" at first)
//   invoke    the tokens /invoke accepts, "current[,previous]": HMAC-SHA256
//             of the namespace under the current (and previous) invoke
//             master key (common/tokens.h)
//   tls.crt   with a CA (ControlTokensOptions::authority): the control
//   tls.key   port's serving certificate for api::controlServerName(ns) and
//             its key; reissued when it has less than the CA's renewal
//             margin left, is not the current CA's, or names another name
// Pods take `token`, `invoke` and the TLS pair as environment variables at start (and the
// runtime scrubs them), so a replica knows the tokens of its start: the
// operator's calls try the current control token, then the previous one,
// which keeps replicas and warm pods started before a rotation reachable
// until the next. ensure() creates the Secret when absent and caches it;
// reconcile() (the token controller, on the leader) recreates a deleted
// Secret with the cached tokens, so running replicas keep working, rotates on
// the annotation sluice.io/rotate or every rotationPeriod, and follows a new
// invoke master key (rewriting `invoke`).
//
// Each pod is created with annotations naming what it starts with: the
// control token's id (tokenId, a one-way digest), the ids of the invoke
// tokens it accepts, and the serving certificate. A pod whose control token
// has rotated out (neither current nor previous), that accepts none of the
// invoke tokens callers now send (a master key dropped), or whose
// certificate no longer chains to a trusted CA or expires within half the
// CA's renewal margin, can no longer be reached (or soon will not be):
// staleCredentials() says why, and the platform replaces it (rolling, as on
// a spec change) and the warm pool swaps it for a fresh one. So no replica
// outlives its credentials, whether they rotated on schedule, expired, or
// were made anew after an operator restart lost them. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "common/tokens.h"
#include "kube/resource_client.h"
#include "tls/certificate_authority.h"

namespace sluice::platform {

inline constexpr const char* kControlTokenSecret = "sluice-control-token";
inline constexpr const char* kControlTokenKey = "token";
inline constexpr const char* kPreviousControlTokenKey = "previous";
inline constexpr const char* kInvokeTokenKey = "invoke";
inline constexpr const char* kTlsCertificateKey = "tls.crt";
inline constexpr const char* kTlsKeyKey = "tls.key";
// Set (any value) on the Secret to rotate the control token now; removed once done.
inline constexpr const char* kRotateAnnotation = "sluice.io/rotate";
// When the control token was made (seconds since the epoch): a scheduled rotation counts from it.
inline constexpr const char* kRotatedAtAnnotation = "sluice.io/rotated-at";
// On pods: which control token (tokenId, common/tokens.h) and serving certificate (PEM, public) the pod
// starts with, as the Secret held them when the pod was made (its container reads them at start:
// these or newer ones).
inline constexpr const char* kPodTokenIdAnnotation = "sluice.io/control-token-id";
// On pods: the ids (tokenId) of the invoke tokens the pod accepts, comma-separated.
inline constexpr const char* kPodInvokeTokenIdsAnnotation = "sluice.io/invoke-token-ids";
inline constexpr const char* kPodCertificateAnnotation = "sluice.io/control-certificate";

struct NamespaceTokens {
  std::string control;
  std::string previousControl;  // "" when never rotated
  std::string invoke;           // what replicas accept: "current[,previous]"
  int64_t rotatedAt = 0;        // seconds since the epoch
  std::string tlsCertificate;   // PEM; "" without a CA
  std::string tlsKey;
};

struct ControlTokensOptions {
  InvokeKeyRing invokeKeys;  // none: replicas get no invoke token and refuse /invoke; followed as they change
  Clock::Duration rotationPeriod = Clock::Duration::zero();  // zero: only on demand
  // Issues the control port's certificates; null: replicas serve plain HTTP.
  tls::CertificateAuthority* authority = nullptr;
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

  // The annotations a pod made now with `tokens` carries (see above).
  static kube::Json podAnnotations(const NamespaceTokens& tokens);
  // Why `pod` (with the annotations above) can no longer be reached with `tokens` and the trusted
  // CAs, or will not be soon; "" when it can, or when the pod does not say what it holds.
  std::string staleCredentials(const kube::Json& pod, const NamespaceTokens& tokens) const;

  // Called with the namespace after its Secret was rewritten (rotated tokens, a reissued
  // certificate): pods made before may now be stale, and only their Function's reconcile
  // replaces them. Set once, before reconcile() first runs.
  void onChange(std::function<void(const std::string& ns)> changed) { changed_ = std::move(changed); }

  // Whether replicas get a serving certificate (a CA is configured).
  bool issuesCertificates() const { return options_.authority != nullptr; }
  // The CA certificates the control client trusts ("" without a CA).
  std::string trustedCertificates() const;

 private:
  // Gives `tokens` a current certificate when they lack one (see above); true when it did.
  Result<bool> withCurrentCertificate(const std::string& ns, NamespaceTokens& tokens);
  Result<NamespaceTokens> fresh(const std::string& ns, const NamespaceTokens* before);
  Status create(const std::string& ns, const NamespaceTokens& tokens);
  // Writes `next` over `existing` (its resourceVersion: a concurrent change fails) and remembers it.
  Status update(const std::string& ns, const kube::Json& existing, const NamespaceTokens& next);
  void remember(const std::string& ns, const NamespaceTokens& tokens);

  kube::ResourceClient& client_;
  const ControlTokensOptions options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, NamespaceTokens> tokens_;  // guarded by mu_
  std::function<void(const std::string& ns)> changed_;
};

}  // namespace sluice::platform
