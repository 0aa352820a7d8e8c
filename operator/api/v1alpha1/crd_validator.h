// CrdValidator: checks a Function or Trigger object against the
// CustomResourceDefinitions of crds/ the way the apiserver does on
// `kubectl apply`: structural defaults first, then the OpenAPI schema (types,
// required, enum, bounds, lengths, patterns, unknown fields) and the CEL rules
// (x-kubernetes-validations), with the apiserver's wording and the CRD's own
// messages, e.g.
//   spec.scaling.maxReplicas: Invalid value: 0: spec.scaling.maxReplicas in body should be greater than or equal to 1
//   spec: Invalid value: "object": spec must set exactly one source: kafka, rabbitmq, ...
// CEL is not interpreted: each rule the CRDs use has a C++ twin here, keyed by
// the rule's text, and building a validator from CRDs that carry a rule
// without a twin fails, so the two cannot drift apart silently.
// Once the schema passes, the checks it cannot make run too (semantics.h:
// a regex that does not compile, a cron hour of 24, ...), so this is the one
// validator of `sluice check`, `--local --check` and the admission webhook.
// Immutable after construction; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::api::v1alpha1 {

struct FieldError {
  std::string pointer;  // JSON pointer of the field at fault ("/spec/scaling/maxReplicas")
  std::string message;  // "spec.scaling.maxReplicas: Invalid value: ..."
};

class CrdValidator {
 public:
  // From CRD YAML texts (apiextensions.k8s.io/v1). Fails on a CEL rule this
  // validator has no implementation for, naming it.
  static Result<CrdValidator> fromCrds(const std::vector<std::string>& crdYamlTexts);
  // The CRDs compiled into the binary (crds/ at build time).
  static const CrdValidator& builtin();

  // Kinds this validator knows ("Function", "Trigger").
  bool knows(const std::string& kind) const { return schemas_.contains(kind); }
  // Applies the schema's defaults to `object` and returns every violation
  // (empty: valid). Checks apiVersion, kind and metadata.name too.
  std::vector<FieldError> validate(nlohmann::json& object) const;

  using Rule = std::function<bool(const nlohmann::json& self)>;

 private:
  struct KindSchema {
    std::string apiVersion;
    nlohmann::json openApi;  // schema.openAPIV3Schema
  };
  std::map<std::string, KindSchema> schemas_;  // by kind
};

// The apiserver's display of a field path: "spec.pipeline[1].parse".
std::string fieldPath(const std::string& pointer);

}  // namespace sluice::api::v1alpha1
