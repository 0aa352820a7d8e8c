// ControlTokens: the bearer token that guards each namespace's replica control
// endpoints (/specialize, /drain). It lives in the Secret "sluice-control-token"
// (key "token") of the namespace, created with 32 random bytes the first time a
// namespace needs it; pods receive it through a secretKeyRef, the operator
// reads it here. Tokens are cached per namespace. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::platform {

inline constexpr const char* kControlTokenSecret = "sluice-control-token";
inline constexpr const char* kControlTokenKey = "token";
inline constexpr const char* kControlTokenEnv = "SLUICE_SPECIALIZE_TOKEN";

class ControlTokens {
 public:
  explicit ControlTokens(kube::ResourceClient& client) : client_(client) {}

  // The namespace's token, creating its Secret when absent.
  Result<std::string> ensure(const std::string& ns);

 private:
  kube::ResourceClient& client_;
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;
};

}  // namespace sluice::platform
