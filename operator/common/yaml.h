// YAML documents as nlohmann::json, remembering where each value came from,
// so that errors about a field can name the file's line. Scalars are typed by
// YAML 1.2's core schema as kubectl does (quoted -> string; true/false, null,
// integers and floats otherwise). Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice {

// One YAML document of a file.
struct YamlDocument {
  nlohmann::json value;
  int line = 1;                      // 1-based line where the document starts
  std::map<std::string, int> lines;  // JSON pointer ("/spec/runtime") -> 1-based line
  // The line of `pointer`, or of its nearest ancestor that exists.
  int lineOf(const std::string& pointer) const;
};

// Every document of `text` (empty documents are skipped). A syntax error
// becomes an invalid-argument status "line N, column M: <yaml-cpp's reason>";
// so does text that is not UTF-8 ("line N, column M: invalid UTF-8").
Result<std::vector<YamlDocument>> parseYamlDocuments(const std::string& text);

// "line L, column C" of the first byte of `text` that is not UTF-8, or "" when
// all of it is. yaml-cpp takes any bytes, but nlohmann's dump() throws on a
// string that is not UTF-8, so YAML is checked before it becomes JSON.
std::string invalidUtf8Position(const std::string& text);

}  // namespace sluice
