#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <regex>

namespace sluice::cli {

namespace {

// YAML 1.2 core schema: the plain scalars that are null, booleans or numbers
// (what common/yaml.h and kubectl read them as).
bool readsAsScalarOfAnotherType(const std::string& text) {
  static const std::regex kTyped(
      "~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|"
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  return std::regex_match(text, kTyped);
}

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      if (value.empty()) out << YAML::Flow;  // {} rather than a block of nothing
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      return;
    case nlohmann::json::value_t::array:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      return;
    case nlohmann::json::value_t::string: {
      // A string that would read back as another type ("True", "12", "null") keeps its quotes.
      const std::string& text = value.get_ref<const std::string&>();
      const bool typed = text.empty() || readsAsScalarOfAnotherType(text);
      if (typed) out << YAML::DoubleQuoted;
      out << text;
      return;
    }
    case nlohmann::json::value_t::null: out << YAML::Null; return;
    default: out << value.dump(); return;
  }
}

}  // namespace

Result<OutputFormat> parseOutputFormat(const std::string& value) {
  if (value.empty() || value == "text") return OutputFormat::kText;
  if (value == "json") return OutputFormat::kJson;
  if (value == "yaml") return OutputFormat::kYaml;
  return invalidArgument("--output: " + value + " is not one of text, json, yaml");
}

std::string toYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

std::string render(const nlohmann::json& value, OutputFormat format) {
  return format == OutputFormat::kYaml ? toYaml(value) : value.dump(2) + "\n";
}

}  // namespace sluice::cli
