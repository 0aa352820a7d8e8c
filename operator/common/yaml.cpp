#include "common/yaml.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/encoding.h"

namespace sluice {

using nlohmann::json;

namespace {

std::string escapePointerToken(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json plainScalar(const std::string& text) {
  static const std::regex kInt("^[-+]?[0-9]+$");
  static const std::regex kOctal("^0o[0-7]+$");
  static const std::regex kHex("^0x[0-9a-fA-F]+$");
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  errno = 0;
  if (std::regex_match(text, kInt)) {
    long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return value;
  }
  if (std::regex_match(text, kOctal)) return std::strtoll(text.c_str() + 2, nullptr, 8);
  if (std::regex_match(text, kHex)) return std::strtoll(text.c_str() + 2, nullptr, 16);
  if (std::regex_match(text, kFloat)) return std::strtod(text.c_str(), nullptr);
  if (text == ".inf" || text == "+.inf") return std::numeric_limits<double>::infinity();
  if (text == "-.inf") return -std::numeric_limits<double>::infinity();
  return text;
}

json convert(const YAML::Node& node, const std::string& pointer, std::map<std::string, int>& lines) {
  lines[pointer] = node.Mark().line + 1;
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        std::string key = entry.first.as<std::string>();
        out[key] = convert(entry.second, pointer + "/" + escapePointerToken(key), lines);
        // A key's own line is where a reader looks (a nested map starts on the next one).
        lines[pointer + "/" + escapePointerToken(key)] = entry.first.Mark().line + 1;
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        out.push_back(convert(node[i], pointer + "/" + std::to_string(i), lines));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return plainScalar(node.Scalar());
    }
    default: return nullptr;
  }
}

}  // namespace

int YamlDocument::lineOf(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    if (auto it = lines.find(p); it != lines.end()) return it->second;
    if (p.empty()) return line;
    p.erase(p.rfind('/'));
  }
}

std::string invalidUtf8Position(const std::string& text) {
  const size_t bad = invalidUtf8At(text);
  if (bad == std::string::npos) return "";
  const size_t newline = text.rfind('\n', bad);
  const size_t column = newline == std::string::npos ? bad + 1 : bad - newline;
  return "line " + std::to_string(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n') + 1) +
         ", column " + std::to_string(column);
}

namespace {

// Only where each document starts: the events of a first pass over the text.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7 (Debian 12's) loops for ever in LoadAll() on a ',' outside
// brackets after a document ("{a: 1},"): each turn adds an empty document
// without reading on (jbeder/yaml-cpp#1040, fixed in 0.8), until memory runs
// out. Every other document reads at least one byte, so a first pass that
// only counts documents stops past one per byte and names where they stalled.
Status checkDocumentsEnd(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts documents;
  while (parser.HandleNextDocument(documents)) {
    if (documents.starts.size() > text.size() + 1) {
      const YAML::Mark& at = documents.starts.back();
      const char c = at.pos >= 0 && static_cast<size_t>(at.pos) < text.size() ? text[at.pos] : ' ';
      return invalidArgument("line " + std::to_string(at.line + 1) + ", column " + std::to_string(at.column + 1) +
                             ": unexpected '" + std::string(1, c) + "'");
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<YamlDocument>> parseYamlDocuments(const std::string& text) {
  if (std::string at = invalidUtf8Position(text); !at.empty()) return invalidArgument(at + ": invalid UTF-8");
  std::vector<YAML::Node> nodes;
  try {
    if (Status ends = checkDocumentsEnd(text); !ends.isOk()) return ends;
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return invalidArgument("line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                           ": " + e.msg);
  }
  std::vector<YamlDocument> out;
  for (const YAML::Node& node : nodes) {
    if (!node.IsDefined() || node.IsNull()) continue;
    YamlDocument document;
    document.line = node.Mark().line + 1;
    try {
      document.value = convert(node, "", document.lines);
    } catch (const YAML::Exception& e) {
      return invalidArgument("line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    document.lines[""] = document.line;
    out.push_back(std::move(document));
  }
  return out;
}

}  // namespace sluice
