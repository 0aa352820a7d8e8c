// Reads Function and Trigger manifests (the YAML `kubectl apply -f` takes) for
// --local, and v1 Secrets (credentials stay out of the specs): every Function
// and Trigger is validated by the CrdValidator, and each error names the file,
// the line and the field:
//   fn.yaml:12: Function default/clean: spec.scaling.maxReplicas: Invalid value: 0: ...
// A file with any error contributes no objects (as one `kubectl apply` of a
// file whose objects the server refused). Thread-safe (pure functions).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/crd_validator.h"

namespace sluice::localmode {

using api::v1alpha1::CrdValidator;
using api::v1alpha1::FieldError;

struct ManifestFile {
  std::string path;
  std::vector<nlohmann::json> objects;  // defaulted; namespace set ("default" when absent)
  std::vector<std::string> errors;      // "path:line: Kind ns/name: field: message"
};

ManifestFile parseManifests(const std::string& path, const std::string& text, const CrdValidator& validator);
ManifestFile loadManifestFile(const std::string& path, const CrdValidator& validator);

// *.yaml and *.yml directly in `dir` (not hidden), sorted by name.
std::vector<std::string> manifestPaths(const std::string& dir);

}  // namespace sluice::localmode
