#include "platform/kube/control_token.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "api/pods.h"
#include "common/encoding.h"
#include "common/logging.h"
#include "common/random.h"

namespace sluice::platform {

namespace {

std::string secretName(const std::string& ns) { return "Secret " + ns + "/" + kControlTokenSecret; }

// data[key] decoded; "" when absent.
Result<std::string> dataOf(const kube::Json& secret, const char* key, const std::string& ns) {
  std::string encoded = secret.value("/data"_json_pointer / key, std::string());
  if (encoded.empty()) return std::string();
  Result<std::string> value = base64Decode(encoded);
  if (!value)
    return Status(StatusCode::kFailedPrecondition, secretName(ns) + ": data." + key + ": " + value.status().message());
  return value;
}

Result<NamespaceTokens> tokensOf(const kube::Json& secret, const std::string& ns) {
  NamespaceTokens tokens;
  for (auto [key, field] :
       {std::pair{kControlTokenKey, &tokens.control}, std::pair{kPreviousControlTokenKey, &tokens.previousControl},
        std::pair{kInvokeTokenKey, &tokens.invoke}, std::pair{kTlsCertificateKey, &tokens.tlsCertificate},
        std::pair{kTlsKeyKey, &tokens.tlsKey}}) {
    auto value = dataOf(secret, key, ns);
    if (!value.isOk()) return value.status();
    *field = *value;
  }
  if (tokens.control.empty()) {
    return Status(StatusCode::kFailedPrecondition, secretName(ns) + ": data." + kControlTokenKey + " is empty");
  }
  const std::string rotatedAt = secret.value("/metadata/annotations"_json_pointer / kRotatedAtAnnotation, "0");
  tokens.rotatedAt = std::strtoll(rotatedAt.c_str(), nullptr, 10);
  return tokens;
}

kube::Json secretOf(const std::string& ns, const NamespaceTokens& tokens) {
  kube::Json secret = {{"apiVersion", "v1"},
                       {"kind", "Secret"},
                       {"metadata",
                        {{"name", kControlTokenSecret},
                         {"namespace", ns},
                         {"labels", {{api::kManagedByLabel, "sluice"}}},
                         {"annotations", {{kRotatedAtAnnotation, std::to_string(tokens.rotatedAt)}}}}},
                       {"type", "Opaque"},
                       {"data",
                        {{kControlTokenKey, base64Encode(tokens.control)},
                         {kPreviousControlTokenKey, base64Encode(tokens.previousControl)},
                         {kInvokeTokenKey, base64Encode(tokens.invoke)}}}};
  if (!tokens.tlsCertificate.empty()) {
    secret["data"][kTlsCertificateKey] = base64Encode(tokens.tlsCertificate);
    secret["data"][kTlsKeyKey] = base64Encode(tokens.tlsKey);
  }
  return secret;
}

}  // namespace

std::string ControlTokens::invokeTokensFor(const std::string& ns) const {
  return sluice::invokeTokensFor(options_.invokeKeys.keys(), ns);
}

kube::Json ControlTokens::podAnnotations(const NamespaceTokens& tokens) {
  std::string invokeIds;
  for (const std::string& token : splitTokenList(tokens.invoke))
    invokeIds += (invokeIds.empty() ? "" : ",") + tokenId(token);
  kube::Json annotations = {{kPodTokenIdAnnotation, tokenId(tokens.control)},
                            {kPodInvokeTokenIdsAnnotation, invokeIds}};
  if (!tokens.tlsCertificate.empty()) annotations[kPodCertificateAnnotation] = tokens.tlsCertificate;
  return annotations;
}

std::string ControlTokens::staleCredentials(const kube::Json& pod, const NamespaceTokens& tokens) const {
  const kube::Json& annotations = pod.value("/metadata/annotations"_json_pointer, kube::Json::object());
  if (auto id = annotations.find(kPodTokenIdAnnotation); id != annotations.end() && id->is_string()) {
    const std::string held = id->get<std::string>();
    if (held != tokenId(tokens.control) &&
        (tokens.previousControl.empty() || held != tokenId(tokens.previousControl))) {
      return "its control token (" + held + ") is neither the current nor the previous one";
    }
  }
  if (auto ids = annotations.find(kPodInvokeTokenIdsAnnotation); ids != annotations.end() && ids->is_string()) {
    const std::vector<std::string> sent =
        splitTokenList(invokeTokensFor(pod.value("/metadata/namespace"_json_pointer, "")));
    const std::vector<std::string> held = splitTokenList(ids->get<std::string>());
    const bool accepted = std::any_of(sent.begin(), sent.end(), [&](const std::string& token) {
      return std::find(held.begin(), held.end(), tokenId(token)) != held.end();
    });
    if (!sent.empty() && !accepted) {
      return "it accepts none of the invoke tokens callers send now (" + ids->get<std::string>() + ")";
    }
  }
  auto certificate = annotations.find(kPodCertificateAnnotation);
  if (options_.authority == nullptr || certificate == annotations.end() || !certificate->is_string()) return "";
  // Half the margin at which the Secret's certificate is reissued: a pod made just before a
  // reissue has that long to be replaced before its certificate expires.
  const auto ahead = options_.authority->renewBefore() / 2;
  const std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string("default"));
  Status verified = options_.authority->verify(certificate->get<std::string>(), api::controlServerName(ns), ahead);
  return verified.isOk() ? "" : "its control certificate will not verify: " + verified.message();
}

std::string ControlTokens::trustedCertificates() const {
  return options_.authority ? options_.authority->trustedPem() : "";
}

Result<bool> ControlTokens::withCurrentCertificate(const std::string& ns, NamespaceTokens& tokens) {
  if (!options_.authority) return false;
  const std::string name = api::controlServerName(ns);
  if (!options_.authority->needsReissue(tokens.tlsCertificate, name)) return false;
  auto issued = options_.authority->issue(name);
  if (!issued.isOk()) return issued.status().withContext("issuing the control certificate of " + secretName(ns));
  tokens.tlsCertificate = issued->certificatePem;
  tokens.tlsKey = issued->privateKeyPem;
  return true;
}

Result<NamespaceTokens> ControlTokens::fresh(const std::string& ns, const NamespaceTokens* before) {
  auto control = randomHexToken(32);
  if (!control.isOk()) return control.status();
  NamespaceTokens tokens;
  tokens.control = *control;
  tokens.previousControl = before ? before->control : "";
  tokens.invoke = invokeTokensFor(ns);
  tokens.rotatedAt = std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch()).count();
  if (before) {
    tokens.tlsCertificate = before->tlsCertificate;
    tokens.tlsKey = before->tlsKey;
  }
  if (auto issued = withCurrentCertificate(ns, tokens); !issued.isOk()) return issued.status();
  return tokens;
}

void ControlTokens::remember(const std::string& ns, const NamespaceTokens& tokens) {
  std::lock_guard lock(mu_);
  tokens_[ns] = tokens;
}

Status ControlTokens::create(const std::string& ns, const NamespaceTokens& tokens) {
  auto created = client_.create(kube::resources::kSecrets, ns, secretOf(ns, tokens));
  if (!created.isOk()) return created.status().withContext("creating " + secretName(ns));
  remember(ns, tokens);
  return Status::ok();
}

Result<NamespaceTokens> ControlTokens::ensure(const std::string& ns) {
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(ns); it != tokens_.end()) return it->second;
  }
  auto existing = client_.get(kube::resources::kSecrets, ns, kControlTokenSecret);
  if (existing.isOk()) {
    auto tokens = tokensOf(*existing, ns);
    if (!tokens.isOk()) return tokens.status();
    // A Secret made before the operator had a CA (or whose certificate is due) gets one before pods need it.
    auto issued = withCurrentCertificate(ns, *tokens);
    if (!issued.isOk()) return issued.status();
    if (*issued) {
      if (Status written = update(ns, *existing, *tokens); !written.isOk()) return written;
    }
    remember(ns, *tokens);
    return tokens;
  }
  if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status().withContext("reading " + secretName(ns));
  }
  auto tokens = fresh(ns, nullptr);
  if (!tokens.isOk()) return tokens.status();
  Status created = create(ns, *tokens);
  if (created.code() == StatusCode::kAlreadyExists) {
    // Another operator replica won the race: use its tokens.
    auto again = client_.get(kube::resources::kSecrets, ns, kControlTokenSecret);
    if (!again.isOk()) return again.status();
    auto theirs = tokensOf(*again, ns);
    if (theirs.isOk()) remember(ns, *theirs);
    return theirs;
  }
  if (!created.isOk()) return created;
  return tokens;
}

Status ControlTokens::update(const std::string& ns, const kube::Json& existing, const NamespaceTokens& next) {
  kube::Json updated = secretOf(ns, next);
  updated["metadata"]["resourceVersion"] = existing.value("/metadata/resourceVersion"_json_pointer, std::string());
  auto written = client_.update(kube::resources::kSecrets, updated);
  if (!written.isOk()) return written.status().withContext("updating " + secretName(ns));
  remember(ns, next);
  if (changed_) changed_(ns);
  return Status::ok();
}

Status ControlTokens::reconcile(const std::string& ns) {
  if (options_.authority) {
    if (Status authority = options_.authority->ensureCurrent(); !authority.isOk()) return authority;
  }
  auto existing = client_.get(kube::resources::kSecrets, ns, kControlTokenSecret);
  NamespaceTokens known;
  bool haveKnown = false;
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(ns); it != tokens_.end()) {
      known = it->second;
      haveKnown = true;
    }
  }
  if (!existing.isOk()) {
    if (existing.status().code() != StatusCode::kNotFound) {
      return existing.status().withContext("reading " + secretName(ns));
    }
    // Deleted: the same tokens again, which every running replica holds; new pods can start.
    if (!haveKnown) return ensure(ns).status();
    SLUICE_LOG_WARN("{} was deleted: recreating it with the tokens the replicas hold", secretName(ns));
    Status created = create(ns, known);
    return created.code() == StatusCode::kAlreadyExists ? Status::ok() : created;
  }
  auto current = tokensOf(*existing, ns);
  if (!current.isOk()) return current.status();
  NamespaceTokens next = *current;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch()).count();
  const bool asked = existing->contains("/metadata/annotations"_json_pointer / kRotateAnnotation);
  const auto period = std::chrono::duration_cast<std::chrono::seconds>(options_.rotationPeriod).count();
  const bool due = period > 0 && now - current->rotatedAt >= period;
  if (asked || due) {
    auto rotated = fresh(ns, &*current);
    if (!rotated.isOk()) return rotated.status();
    next = *rotated;
    SLUICE_LOG_INFO("{}: rotating the control token ({})", secretName(ns), asked ? "asked by annotation" : "scheduled");
  }
  // A new master key (the previous one kept beside it while it rolls out).
  next.invoke = invokeTokensFor(ns);
  auto reissued = withCurrentCertificate(ns, next);
  if (!reissued.isOk()) return reissued.status();
  if (next.control == current->control && next.invoke == current->invoke && !asked && !*reissued) {
    remember(ns, *current);
    // Rewritten by another replica (a sharded operator runs this on every replica): pods this
    // one made before may now be stale, as after its own update.
    const bool elsewhere = haveKnown && (known.control != current->control || known.invoke != current->invoke ||
                                         known.tlsCertificate != current->tlsCertificate);
    if (elsewhere && changed_) changed_(ns);
    return Status::ok();
  }
  if (*reissued) SLUICE_LOG_INFO("{}: issued a new control certificate", secretName(ns));
  return update(ns, *existing, next);
}

}  // namespace sluice::platform
