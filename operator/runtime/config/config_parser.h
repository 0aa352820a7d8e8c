// The one parser of a replica's function configuration (JSON or YAML).
//
// Errors are kInvalidArgument and name the exact field path and the bad value,
// e.g. `pipeline[2].filter.expression: unexpected ')' at column 7`, so the
// operator can surface them on the Function's status. Unknown fields are
// refused (they are typos more often than not). Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/config/function_config.h"

namespace sluice::runtime::config {

// Parses the file's text. YAML is accepted too (JSON is a subset of YAML, but
// JSON input goes through nlohmann for exact error positions).
Result<FunctionConfig> parseFunctionConfig(const std::string& text);

// Reads and parses a file; the error names the path.
Result<FunctionConfig> loadFunctionConfig(const std::string& path);

}  // namespace sluice::runtime::config
