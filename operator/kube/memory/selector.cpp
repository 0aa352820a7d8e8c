#include "kube/memory/selector.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

#include "kube/memory/in_memory_resource_client.h"

namespace sluice::kube {

namespace {

using Requirement = SelectorRequirement;

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Splits at commas outside parentheses.
std::vector<std::string> terms(const std::string& selector) {
  std::vector<std::string> result;
  std::string current;
  int depth = 0;
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      result.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!trim(current).empty() || !result.empty()) result.push_back(trim(current));
  return result;
}

bool validName(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./", c); });
}

// "key in (a, b)" or "key notin (a)"; false when it is not well formed.
bool parseSetTerm(const std::string& term, size_t open, Requirement& r) {
  auto close = term.rfind(')');
  if (close == std::string::npos || close < open) return false;
  std::string head = trim(term.substr(0, open));
  auto space = head.find_last_of(" \t");
  if (space == std::string::npos) return false;
  std::string word = head.substr(space + 1);
  r.key = trim(head.substr(0, space));
  if (word == "in") {
    r.op = Requirement::kIn;
  } else if (word == "notin") {
    r.op = Requirement::kNotIn;
  } else {
    return false;
  }
  std::string inside = term.substr(open + 1, close - open - 1);
  size_t start = 0;
  while (true) {
    auto comma = inside.find(',', start);
    r.values.push_back(trim(inside.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

std::optional<Requirement> parseLabelTerm(const std::string& term) {
  if (term.empty()) return std::nullopt;
  Requirement r{};
  if (term[0] == '!') {
    r.op = Requirement::kNotExists;
    r.key = trim(term.substr(1));
  } else if (auto open = term.find('('); open != std::string::npos) {
    if (!parseSetTerm(term, open, r)) return std::nullopt;
  } else if (auto ne = term.find("!="); ne != std::string::npos) {
    r.op = Requirement::kNotEquals;
    r.key = trim(term.substr(0, ne));
    r.values = {trim(term.substr(ne + 2))};
  } else if (auto eq = term.find('='); eq != std::string::npos) {
    r.op = Requirement::kEquals;
    r.key = trim(term.substr(0, eq));
    size_t valueStart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
    r.values = {trim(term.substr(valueStart))};
  } else {
    r.op = Requirement::kExists;
    r.key = term;
  }
  if (r.key.empty() || !validName(r.key)) return std::nullopt;
  for (const auto& value : r.values) {
    if (!validName(value)) return std::nullopt;
  }
  return r;
}

std::optional<std::string> labelOf(const Json& object, const std::string& key) {
  if (!object.contains("metadata") || !object["metadata"].contains("labels")) return std::nullopt;
  const Json& labels = object["metadata"]["labels"];
  if (!labels.is_object() || !labels.contains(key) || !labels[key].is_string()) return std::nullopt;
  return labels[key].get<std::string>();
}

std::optional<std::string> fieldOf(const Json& object, const std::string& path) {
  const Json* node = &object;
  size_t start = 0;
  while (true) {
    auto dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) return std::nullopt;
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_null()) return std::nullopt;
  return node->dump();
}

bool satisfied(const Requirement& r, const std::optional<std::string>& value) {
  auto inValues = [&] { return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end(); };
  switch (r.op) {
    case Requirement::kEquals: return inValues();
    case Requirement::kNotEquals: return !inValues();
    case Requirement::kIn: return inValues();
    case Requirement::kNotIn: return !inValues();
    case Requirement::kExists: return value.has_value();
    case Requirement::kNotExists: return !value.has_value();
  }
  return false;
}

}  // namespace

Result<Selector> parseLabelSelector(const std::string& selector) {
  Selector result;
  for (const auto& term : terms(selector)) {
    std::optional<Requirement> requirement = parseLabelTerm(term);
    if (!requirement) {
      return InMemoryResourceClient::apiStatus(400, "BadRequest", "unable to parse requirement: \"" + term + "\"");
    }
    result.push_back(std::move(*requirement));
  }
  return result;
}

Result<Selector> parseFieldSelector(const std::string& selector) {
  Selector result;
  for (const auto& term : terms(selector)) {
    Requirement r{};
    auto ne = term.find("!=");
    auto eq = term.find('=');
    if (ne != std::string::npos) {
      r.op = Requirement::kNotEquals;
      r.key = trim(term.substr(0, ne));
      r.values = {trim(term.substr(ne + 2))};
    } else if (eq != std::string::npos) {
      r.op = Requirement::kEquals;
      r.key = trim(term.substr(0, eq));
      r.values = {trim(term.substr(term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1))};
    }
    if (r.key.empty()) {
      return InMemoryResourceClient::apiStatus(400, "BadRequest", "invalid field selector: \"" + term + "\"");
    }
    result.push_back(std::move(r));
  }
  return result;
}

bool matches(const Selector& labels, const Selector& fields, const Json& object) {
  for (const auto& r : labels) {
    if (!satisfied(r, labelOf(object, r.key))) return false;
  }
  for (const auto& r : fields) {
    // A missing field compares as "", as the apiserver's field sets do.
    auto value = fieldOf(object, r.key);
    if (!satisfied(r, value.value_or(""))) return false;
  }
  return true;
}

}  // namespace sluice::kube
