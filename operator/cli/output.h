// How the sluice CLI prints objects: `--output json` (nlohmann's dump,
// indented by 2, keys sorted as nlohmann keeps them) or `--output yaml` (block
// style, strings quoted only where YAML needs it). Pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::cli {

enum class OutputFormat { kText, kJson, kYaml };

// "" or "text" -> kText, "json", "yaml"; anything else names the flag.
Result<OutputFormat> parseOutputFormat(const std::string& value);

// The value as the format prints it, ending with a newline.
std::string render(const nlohmann::json& value, OutputFormat format);
std::string toYaml(const nlohmann::json& value);

}  // namespace sluice::cli
