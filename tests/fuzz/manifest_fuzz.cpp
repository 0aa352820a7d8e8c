// Fuzzes what `sluice-operator --local DIR --check` runs on each manifest
// file: YAML documents into JSON, then the CRD validator (defaults, OpenAPI
// schema, the C++ twins of the CEL rules). Any file must give objects or
// errors naming the file, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "localmode/manifests.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto& validator = sluice::api::v1alpha1::CrdValidator::builtin();
  sluice::localmode::ManifestFile file = sluice::localmode::parseManifests("fuzz.yaml", text, validator);
  // Every error names the file; a file with errors contributes no objects.
  for (const std::string& error : file.errors) {
    if (error.rfind("fuzz.yaml:", 0) != 0) __builtin_trap();
  }
  if (!file.errors.empty() && !file.objects.empty()) __builtin_trap();
  return 0;
}
