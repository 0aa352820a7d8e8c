#include "runtime/expression/expression.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include <re2/re2.h>

namespace sluice::runtime {

using nlohmann::json;

struct Expression::Node {
  enum class Kind { kLiteral, kField, kList, kUnary, kBinary, kCall };
  Kind kind = Kind::kLiteral;
  json literal;
  std::vector<std::string> path;  // kField
  std::string op;                 // kUnary, kBinary, kCall (function name)
  std::vector<std::shared_ptr<const Node>> children;
  std::shared_ptr<const RE2> regex;  // matches() with a literal pattern
  int depth = 1;                     // of the tree below and including this node
};

namespace {

using Node = Expression::Node;
using NodePtr = std::shared_ptr<const Node>;

struct CompileError {
  std::string message;
};

struct Token {
  enum class Kind { kEnd, kNumber, kString, kIdent, kOp };
  Kind kind = Kind::kEnd;
  std::string text;
  json value;
  size_t column = 0;  // 1-based
};

[[noreturn]] void tokenError(const std::string& message, size_t at) {
  throw CompileError{message + " at column " + std::to_string(at + 1)};
}

bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// A number from text[i]: integer, decimal, exponent. Advances i past it.
void readNumber(const std::string& text, size_t& i, Token& token) {
  size_t start = i;
  bool isFloat = false;
  while (i < text.size() && isDigit(text[i])) ++i;
  if (i + 1 < text.size() && text[i] == '.' && isDigit(text[i + 1])) {
    isFloat = true;
    ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    if (j < text.size() && isDigit(text[j])) {
      isFloat = true;
      i = j;
      while (i < text.size() && isDigit(text[i])) ++i;
    }
  }
  token.kind = Token::Kind::kNumber;
  token.text = text.substr(start, i - start);
  try {
    token.value = isFloat ? json(std::stod(token.text)) : json(std::stoll(token.text));
  } catch (const std::out_of_range&) {
    tokenError("number out of range", start);
  }
}

// A name or dotted field path from text[i].
void readIdentifier(const std::string& text, size_t& i, Token& token) {
  size_t start = i;
  while (i < text.size() &&
         (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' || text[i] == '$' || text[i] == '.')) {
    ++i;
  }
  token.kind = Token::Kind::kIdent;
  token.text = text.substr(start, i - start);
  if (token.text.back() == '.' || token.text.find("..") != std::string::npos) {
    tokenError("bad field path \"" + token.text + "\"", start);
  }
}

// A quoted string (either quote) from text[i], with its escapes.
void readString(const std::string& text, size_t& i, Token& token) {
  const char quote = text[i];
  size_t start = i++;
  std::string value;
  bool closed = false;
  while (i < text.size()) {
    char d = text[i++];
    if (d == quote) {
      closed = true;
      break;
    }
    if (d != '\\') {
      value += d;
      continue;
    }
    if (i >= text.size()) break;
    char e = text[i++];
    switch (e) {
      case 'n': value += '\n'; break;
      case 't': value += '\t'; break;
      case 'r': value += '\r'; break;
      case '\\': value += '\\'; break;
      case '"': value += '"'; break;
      case '\'': value += '\''; break;
      default: tokenError(std::string("unknown escape \\") + e, i - 2);
    }
  }
  if (!closed) tokenError("unterminated string", start);
  token.kind = Token::Kind::kString;
  token.value = value;
  token.text = text.substr(start, i - start);
}

// An operator or punctuation from text[i], two characters first.
void readOperator(const std::string& text, size_t& i, Token& token) {
  static const char* kTwoCharOps[] = {"==", "!=", "<=", ">=", "&&", "||"};
  token.kind = Token::Kind::kOp;
  for (const char* op : kTwoCharOps) {
    if (text.compare(i, 2, op) == 0) token.text = op;
  }
  if (token.text.empty()) {
    if (std::string("<>!+-*/%(),[]").find(text[i]) == std::string::npos) {
      tokenError(std::string("unexpected character '") + text[i] + "'", i);
    }
    token.text = std::string(1, text[i]);
  }
  i += token.text.size();
}

std::vector<Token> tokenize(const std::string& text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token token;
    token.column = i + 1;
    if (isDigit(c)) {
      readNumber(text, i, token);
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
      readIdentifier(text, i, token);
    } else if (c == '"' || c == '\'') {
      readString(text, i, token);
    } else {
      readOperator(text, i, token);
    }
    tokens.push_back(std::move(token));
  }
  Token end;
  end.column = text.size() + 1;
  tokens.push_back(end);
  return tokens;
}

struct FunctionSpec {
  const char* name;
  size_t minArgs;
  size_t maxArgs;
};
constexpr FunctionSpec kFunctions[] = {
    {"contains", 2, 2}, {"startsWith", 2, 2}, {"endsWith", 2, 2}, {"matches", 2, 2}, {"lower", 1, 1},
    {"upper", 1, 1},    {"len", 1, 1},        {"exists", 1, 1},   {"string", 1, 1},  {"number", 1, 1},
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  NodePtr parseAll() {
    if (peek().kind == Token::Kind::kEnd) throw CompileError{"empty expression"};
    NodePtr root = parseBinary(0);
    if (peek().kind != Token::Kind::kEnd) unexpected(peek());
    return root;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_++]; }
  bool isOp(const char* op) const { return peek().kind == Token::Kind::kOp && peek().text == op; }
  bool isKeyword(const char* word) const { return peek().kind == Token::Kind::kIdent && peek().text == word; }

  [[noreturn]] static void tooDeep(const Token& at) {
    throw CompileError{"expression nests deeper than " + std::to_string(kMaxExpressionDepth) + " levels at column " +
                       std::to_string(at.column)};
  }

  // `node` with its depth set from its children's; too deep a tree is refused
  // here, as evaluating it would recurse as deep.
  static NodePtr withDepth(std::shared_ptr<Node> node, const Token& at) {
    for (const auto& child : node->children) node->depth = std::max(node->depth, child->depth + 1);
    if (node->depth > kMaxExpressionDepth) tooDeep(at);
    return node;
  }

  [[noreturn]] static void unexpected(const Token& token) {
    if (token.kind == Token::Kind::kEnd) {
      throw CompileError{"unexpected end of expression at column " + std::to_string(token.column)};
    }
    throw CompileError{"unexpected '" + token.text + "' at column " + std::to_string(token.column)};
  }

  void expect(const char* op) {
    if (!isOp(op)) {
      const Token& token = peek();
      throw CompileError{std::string("expected '") + op + "' at column " + std::to_string(token.column) +
                         (token.kind == Token::Kind::kEnd ? "" : ", got '" + token.text + "'")};
    }
    ++pos_;
  }

  // Binding power of a binary operator at the cursor; 0 if none.
  int precedence(std::string* op) const {
    const Token& token = peek();
    if (token.kind == Token::Kind::kIdent && token.text == "in") {
      *op = "in";
      return 4;
    }
    if (token.kind != Token::Kind::kOp) return 0;
    *op = token.text;
    if (token.text == "||") return 1;
    if (token.text == "&&") return 2;
    if (token.text == "==" || token.text == "!=") return 3;
    if (token.text == "<" || token.text == "<=" || token.text == ">" || token.text == ">=") return 4;
    if (token.text == "+" || token.text == "-") return 5;
    if (token.text == "*" || token.text == "/" || token.text == "%") return 6;
    return 0;
  }

  NodePtr parseBinary(int minPrecedence) {
    NodePtr left = parseUnary();
    while (true) {
      std::string op;
      int p = precedence(&op);
      if (p == 0 || p <= minPrecedence) break;
      const Token& at = next();
      NodePtr right = parseBinary(p);
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::kBinary;
      node->op = op;
      node->children = {left, right};
      left = withDepth(std::move(node), at);
    }
    return left;
  }

  // Every nesting (parentheses, list, call, unary operator) recurses through
  // here: the count bounds the parser's stack, whatever the tree's depth.
  NodePtr parseUnary() {
    if (recursion_ >= kMaxExpressionDepth) tooDeep(peek());
    ++recursion_;
    NodePtr node = parseUnaryNested();
    --recursion_;
    return node;
  }

  NodePtr parseUnaryNested() {
    if (isOp("!") || isOp("-")) {
      const Token& at = next();
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::kUnary;
      node->op = at.text;
      node->children = {parseUnary()};
      return withDepth(std::move(node), at);
    }
    return parsePrimary();
  }

  NodePtr parsePrimary() {
    const Token& token = next();
    auto node = std::make_shared<Node>();
    switch (token.kind) {
      case Token::Kind::kNumber:
      case Token::Kind::kString: node->literal = token.value; return node;
      case Token::Kind::kIdent: {
        if (token.text == "true" || token.text == "false") {
          node->literal = token.text == "true";
          return node;
        }
        if (token.text == "null") return node;
        if (isOp("(")) return parseCall(token);
        node->kind = Node::Kind::kField;
        size_t start = 0;
        while (true) {
          size_t dot = token.text.find('.', start);
          node->path.push_back(token.text.substr(start, dot - start));
          if (dot == std::string::npos) break;
          start = dot + 1;
        }
        return node;
      }
      case Token::Kind::kOp:
        if (token.text == "(") {
          NodePtr inner = parseBinary(0);
          expect(")");
          return inner;
        }
        if (token.text == "[") {
          node->kind = Node::Kind::kList;
          if (!isOp("]")) {
            while (true) {
              node->children.push_back(parseBinary(0));
              if (isOp("]")) break;
              expect(",");
            }
          }
          ++pos_;
          return withDepth(std::move(node), token);
        }
        unexpected(token);
      case Token::Kind::kEnd: unexpected(token);
    }
    unexpected(token);
  }

  NodePtr parseCall(const Token& name) {
    const FunctionSpec* spec = nullptr;
    for (const auto& f : kFunctions) {
      if (name.text == f.name) spec = &f;
    }
    if (spec == nullptr) {
      throw CompileError{"unknown function \"" + name.text + "\" at column " + std::to_string(name.column)};
    }
    expect("(");
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kCall;
    node->op = name.text;
    if (!isOp(")")) {
      while (true) {
        node->children.push_back(parseBinary(0));
        if (isOp(")")) break;
        expect(",");
      }
    }
    ++pos_;
    if (node->children.size() < spec->minArgs || node->children.size() > spec->maxArgs) {
      throw CompileError{name.text + "() takes " + std::to_string(spec->minArgs) + " argument" +
                         (spec->minArgs == 1 ? "" : "s") + ", got " + std::to_string(node->children.size()) +
                         " at column " + std::to_string(name.column)};
    }
    if (name.text == "exists" && node->children[0]->kind != Node::Kind::kField) {
      throw CompileError{"exists() needs a field name at column " + std::to_string(name.column)};
    }
    if (name.text == "matches" && node->children[1]->kind == Node::Kind::kLiteral) {
      const json& pattern = node->children[1]->literal;
      if (!pattern.is_string()) {
        throw CompileError{"matches() needs a string pattern at column " + std::to_string(name.column)};
      }
      std::string problem = checkRegex(pattern.get<std::string>());
      if (!problem.empty()) {
        throw CompileError{"matches() pattern at column " + std::to_string(name.column) + ": " + problem};
      }
      node->regex = std::make_shared<RE2>(pattern.get<std::string>(), RE2::Quiet);
    }
    return withDepth(std::move(node), name);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int recursion_ = 0;  // parseUnary() calls under way
};

struct EvalError {
  std::string message;
};

const char* kindName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "list";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    default: return "number";
  }
}

bool looselyEqual(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

// Ordering of two numbers or two strings; nullopt when they do not compare.
std::optional<int> order(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

const std::string& needString(const json& value, const std::string& function) {
  if (!value.is_string()) {
    throw EvalError{function + "() needs a string, got " + kindName(value)};
  }
  return value.get_ref<const std::string&>();
}

json arithmetic(const std::string& op, const json& a, const json& b) {
  if (op == "+" && a.is_string() && b.is_string()) {
    return a.get<std::string>() + b.get<std::string>();
  }
  if (!a.is_number() || !b.is_number()) {
    throw EvalError{"operator " + op + " needs two numbers" + (op == "+" ? std::string(" or two strings") : "") +
                    ", got " + kindName(a) + " and " + kindName(b)};
  }
  bool integers = a.is_number_integer() && b.is_number_integer();
  if (integers) {
    int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
    if (op == "+") return x + y;
    if (op == "-") return x - y;
    if (op == "*") return x * y;
    if (y == 0) throw EvalError{"division by zero"};
    if (op == "/") return (x % y == 0) ? json(x / y) : json(static_cast<double>(x) / static_cast<double>(y));
    return x % y;
  }
  double x = a.get<double>(), y = b.get<double>();
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (y == 0) throw EvalError{"division by zero"};
  if (op == "/") return x / y;
  return std::fmod(x, y);
}

json evaluateNode(const Node& node, const json& record);

json evaluateCall(const Node& node, const json& record) {
  const std::string& name = node.op;
  if (name == "exists") {
    const json* cursor = &record;
    for (const auto& part : node.children[0]->path) {
      if (!cursor->is_object()) return false;
      auto it = cursor->find(part);
      if (it == cursor->end()) return false;
      cursor = &*it;
    }
    return true;
  }
  json a = evaluateNode(*node.children[0], record);
  if (name == "len") {
    if (a.is_string()) return a.get_ref<const std::string&>().size();
    if (a.is_array() || a.is_object()) return a.size();
    if (a.is_null()) return 0;
    throw EvalError{std::string("len() needs a string, list or object, got ") + kindName(a)};
  }
  if (name == "lower" || name == "upper") {
    if (a.is_null()) return nullptr;
    std::string s = needString(a, name);
    for (char& c : s) {
      c = static_cast<char>(name == "lower" ? std::tolower(static_cast<unsigned char>(c))
                                            : std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
  }
  if (name == "string") {
    if (a.is_string()) return a;
    return a.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (name == "number") {
    if (a.is_number()) return a;
    if (a.is_string()) {
      const std::string& s = a.get_ref<const std::string&>();
      try {
        size_t used = 0;
        if (s.find_first_of(".eE") == std::string::npos) {
          long long n = std::stoll(s, &used);
          if (used == s.size()) return n;
        } else {
          double d = std::stod(s, &used);
          if (used == s.size()) return d;
        }
      } catch (const std::exception&) {
      }
    }
    return nullptr;  // not a number: null, so filters read it as false
  }
  json b = evaluateNode(*node.children[1], record);
  if (a.is_null()) return false;  // a missing field contains, starts, ends or matches nothing
  if (name == "contains") {
    if (a.is_array()) {
      return std::any_of(a.begin(), a.end(), [&](const json& item) { return looselyEqual(item, b); });
    }
    return needString(a, name).find(needString(b, name)) != std::string::npos;
  }
  const std::string& s = needString(a, name);
  if (name == "startsWith") return s.rfind(needString(b, name), 0) == 0;
  if (name == "endsWith") {
    const std::string& suffix = needString(b, name);
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  // matches
  if (node.regex) return RE2::PartialMatch(s, *node.regex);
  RE2 dynamic(needString(b, name), RE2::Quiet);
  if (!dynamic.ok()) throw EvalError{"matches() pattern: " + dynamic.error()};
  return RE2::PartialMatch(s, dynamic);
}

json evaluateNode(const Node& node, const json& record) {
  switch (node.kind) {
    case Node::Kind::kLiteral: return node.literal;
    case Node::Kind::kField: {
      const json* cursor = &record;
      for (const auto& part : node.path) {
        if (!cursor->is_object()) return nullptr;
        auto it = cursor->find(part);
        if (it == cursor->end()) return nullptr;
        cursor = &*it;
      }
      return *cursor;
    }
    case Node::Kind::kList: {
      json out = json::array();
      for (const auto& child : node.children) out.push_back(evaluateNode(*child, record));
      return out;
    }
    case Node::Kind::kUnary: {
      json value = evaluateNode(*node.children[0], record);
      if (node.op == "!") return !isTruthy(value);
      if (value.is_number_integer()) return -value.get<int64_t>();
      if (value.is_number()) return -value.get<double>();
      throw EvalError{std::string("operator - needs a number, got ") + kindName(value)};
    }
    case Node::Kind::kBinary: {
      const std::string& op = node.op;
      if (op == "&&") {
        return isTruthy(evaluateNode(*node.children[0], record)) && isTruthy(evaluateNode(*node.children[1], record));
      }
      if (op == "||") {
        return isTruthy(evaluateNode(*node.children[0], record)) || isTruthy(evaluateNode(*node.children[1], record));
      }
      json a = evaluateNode(*node.children[0], record);
      json b = evaluateNode(*node.children[1], record);
      if (op == "==") return looselyEqual(a, b);
      if (op == "!=") return !looselyEqual(a, b);
      if (op == "in") {
        if (b.is_array()) {
          return std::any_of(b.begin(), b.end(), [&](const json& item) { return looselyEqual(item, a); });
        }
        if (b.is_string() && a.is_string()) {
          return b.get_ref<const std::string&>().find(a.get_ref<const std::string&>()) != std::string::npos;
        }
        if (b.is_object() && a.is_string()) return b.contains(a.get<std::string>());
        return false;
      }
      if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        auto c = order(a, b);
        if (!c) return false;  // e.g. a missing field compared with a number
        if (op == "<") return *c < 0;
        if (op == "<=") return *c <= 0;
        if (op == ">") return *c > 0;
        return *c >= 0;
      }
      return arithmetic(op, a, b);
    }
    case Node::Kind::kCall: return evaluateCall(node, record);
  }
  return nullptr;
}

}  // namespace

Result<Expression> Expression::compile(const std::string& text) {
  try {
    Parser parser(tokenize(text));
    return Expression(text, parser.parseAll());
  } catch (const CompileError& e) {
    return invalidArgument(e.message);
  }
}

Result<json> Expression::evaluate(const json& record) const {
  try {
    return evaluateNode(*root_, record);
  } catch (const EvalError& e) {
    return invalidArgument(e.message);
  }
}

Result<bool> Expression::test(const json& record) const {
  auto value = evaluate(record);
  if (!value) return value.status();
  return isTruthy(*value);
}

bool isTruthy(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return value.get<bool>();
    case json::value_t::string: return !value.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !value.empty();
    case json::value_t::number_float: return value.get<double>() != 0;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return value.get<int64_t>() != 0;
    default: return true;
  }
}

const json* findField(const json& record, const std::string& dottedPath) {
  const json* cursor = &record;
  size_t start = 0;
  while (true) {
    if (!cursor->is_object()) return nullptr;
    size_t dot = dottedPath.find('.', start);
    auto it = cursor->find(dottedPath.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (it == cursor->end()) return nullptr;
    cursor = &*it;
    if (dot == std::string::npos) return cursor;
    start = dot + 1;
  }
}

std::string checkRegex(const std::string& pattern, bool requireNamedGroups) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) return "invalid regular expression: " + re.error();
  if (requireNamedGroups && re.NamedCapturingGroups().empty()) {
    return "needs at least one named group such as (?P<level>\\w+)";
  }
  return "";
}

}  // namespace sluice::runtime
