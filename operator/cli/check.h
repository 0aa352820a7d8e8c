// `sluice check DIR|FILE`: the offline validation of `sluice-operator --local
// DIR --check` (localmode/manifests.h, the CRDs' schema and CEL rules compiled
// in), with the same messages ("file:line: Kind ns/name: field: message"),
// plus the `sluice.io/code-file` annotation of `sluice init`'s Functions: the
// named file (relative to the manifest) becomes spec.code.inline, so the
// handler is edited as a file and checked, applied and run as the Function's code.
// Pure but for reading the files.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::cli {

inline constexpr const char* kCodeFileAnnotation = "sluice.io/code-file";

struct CheckReport {
  std::vector<std::string> files;       // the manifests read, in order
  std::vector<nlohmann::json> objects;  // as written (not defaulted), code files inlined; only without errors
  std::vector<std::string> errors;      // "file:line: Kind ns/name: field: message"
};

// A directory (its *.yaml and *.yml, not hidden, by name) or one file.
CheckReport checkPath(const std::string& path);

// When `object` carries the code-file annotation: spec.code becomes {inline:
// the file's text}, the file read relative to `baseDir`. The error names the annotation.
Status inlineCodeFile(nlohmann::json& object, const std::string& baseDir);

}  // namespace sluice::cli
