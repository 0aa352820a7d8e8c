// Expression: the small, safe expression language of the filter and map
// operators (docs/pipeline.md), e.g. `level == "ERROR" && status >= 500`.
//
// No loops, no assignment, no I/O: an expression only reads the record it is
// given, so evaluation always ends. Compiled once (errors name the column);
// a compiled Expression is immutable and may be evaluated from any thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::runtime {

// How deeply an expression may nest: parentheses, lists, calls and unary
// operators inside one another, and operators chained (`a + b + c` is 3 deep).
// Parsing and evaluating recurse once per level, so this bounds their stack:
// 100,000 '(' is a compile error naming this limit, not a stack overflow.
inline constexpr int kMaxExpressionDepth = 128;

class Expression {
 public:
  struct Node;

  // kInvalidArgument naming the column, e.g. "unexpected ')' at column 7".
  static Result<Expression> compile(const std::string& text);

  // The expression's value on `record` (a missing field reads as null).
  // Errors (kInvalidArgument) are type errors such as "-" on a string.
  Result<nlohmann::json> evaluate(const nlohmann::json& record) const;

  // evaluate() read as a condition: false, null, 0, "" and empty lists/objects are false.
  Result<bool> test(const nlohmann::json& record) const;

  const std::string& text() const { return text_; }

 private:
  Expression(std::string text, std::shared_ptr<const Node> root) : text_(std::move(text)), root_(std::move(root)) {}
  std::string text_;
  std::shared_ptr<const Node> root_;
};

// "" when `pattern` is a valid RE2 regex (with at least one named group when
// `requireNamedGroups`), else the reason it is not.
std::string checkRegex(const std::string& pattern, bool requireNamedGroups = false);

// JSON truthiness used by test(), &&, || and !.
bool isTruthy(const nlohmann::json& value);

// Reads a dotted field path ("a.b.c") from a JSON object; nullptr when absent.
const nlohmann::json* findField(const nlohmann::json& record, const std::string& dottedPath);

}  // namespace sluice::runtime
