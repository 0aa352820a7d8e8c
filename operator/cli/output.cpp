#include "cli/output.h"

#include <yaml-cpp/yaml.h>

namespace sluice::cli {

namespace {

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
      // A string that would read back as another type ("true", "12", "null") keeps its quotes.
      const std::string& text = value.get_ref<const std::string&>();
      bool typed = text.empty() || text == "true" || text == "false" || text == "null" || text == "~" ||
                   text.find_first_not_of("0123456789.-+eE") == std::string::npos;
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
