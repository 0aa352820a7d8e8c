// Readers of one field of a JSON object (a Function or Trigger as the
// apiserver or a manifest has it) whose errors name the field by its path,
// e.g. `spec.kafka.lagThreshold: "x" is not an integer`. Absent and null
// fields leave `out` as it was (the default), so callers set defaults first.
// Used only by the api/v1alpha1 readers. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::api::v1alpha1 {

// Whether object[key] is set (present and not null).
bool hasField(const nlohmann::json& object, const char* key);

// `path` names `object` (e.g. "spec.kafka"); the error names path.key.
Status readInt(const nlohmann::json& object, const char* key, const std::string& path, int& out);
Status readInt64(const nlohmann::json& object, const char* key, const std::string& path, int64_t& out);
Status readNumber(const nlohmann::json& object, const char* key, const std::string& path, double& out);
Status readBool(const nlohmann::json& object, const char* key, const std::string& path, bool& out);
Status readString(const nlohmann::json& object, const char* key, const std::string& path, std::string& out);
Status readStringList(const nlohmann::json& object, const char* key, const std::string& path,
                      std::vector<std::string>& out);
// `out` points at object[key] when it is an object, else stays null.
Status readObject(const nlohmann::json& object, const char* key, const std::string& path, const nlohmann::json*& out);
// A field the schema requires: "path.key: missing" when absent.
Status requireField(const nlohmann::json& object, const char* key, const std::string& path);

}  // namespace sluice::api::v1alpha1
