#include "runtime/expression/expression.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

using nlohmann::json;

const json kRecord = json::parse(R"J({
  "level": "ERROR", "status": 503, "latency": 1.5, "msg": "disk full on /dev/sda",
  "user": {"name": "Ada", "roles": ["admin", "dev"]}, "empty": "", "flag": false
})J");

json eval(const std::string& text) {
  auto compiled = Expression::compile(text);
  EXPECT_TRUE(compiled.isOk()) << text << ": " << compiled.status().message();
  if (!compiled) return "compile error";
  auto value = compiled->evaluate(kRecord);
  EXPECT_TRUE(value.isOk()) << text << ": " << value.status().message();
  return value ? *value : json("eval error");
}

struct Case {
  const char* text;
  json expected;
};

class ExpressionValueTest : public ::testing::TestWithParam<Case> {};

TEST_P(ExpressionValueTest, Evaluates) { EXPECT_EQ(eval(GetParam().text), GetParam().expected) << GetParam().text; }

INSTANTIATE_TEST_SUITE_P(
    Table, ExpressionValueTest,
    ::testing::Values(
        Case{R"(level == "ERROR" && status >= 500)", true}, Case{R"(level == "ERROR" && status < 500)", false},
        Case{R"(level != 'WARN' || status == 1)", true}, Case{"status + 1", 504}, Case{"status - 3 * 2", 497},
        Case{"(status - 3) * 2", 1000}, Case{"status / 2", 251.5}, Case{"10 / 2", 5}, Case{"status % 100", 3},
        Case{"latency * 2", 3.0}, Case{"-status", -503}, Case{"!flag", true}, Case{"!missing", true},
        Case{"user.name", "Ada"}, Case{"user.missing.deeper", nullptr}, Case{"missing > 5", false},
        Case{"missing == null", true}, Case{"status == 503.0", true}, Case{R"("a" + "b")", "ab"},
        Case{R"(level in ["ERROR", "FATAL"])", true}, Case{R"(level in ["INFO"])", false},
        Case{R"("admin" in user.roles)", true}, Case{R"(contains(msg, "disk"))", true},
        Case{R"(contains(user.roles, "dev"))", true}, Case{R"(startsWith(msg, "disk"))", true},
        Case{R"(endsWith(msg, "sda"))", true}, Case{R"(matches(msg, "/dev/sd[a-z]"))", true},
        Case{R"(matches(missing, "x"))", false}, Case{"lower(level)", "error"}, Case{"upper(user.name)", "ADA"},
        Case{"len(msg)", 21}, Case{"len(user.roles)", 2}, Case{"exists(user.name)", true},
        Case{"exists(user.age)", false}, Case{"string(status)", "503"}, Case{R"(number("42"))", 42},
        Case{R"(number("x"))", nullptr}, Case{"empty || 'fallback'", true}, Case{"1 < 2 == true", true},
        Case{"'b' > 'a'", true}, Case{"2.5e1", 25.0}, Case{R"('it\'s')", "it's"}));

struct BadCase {
  const char* text;
  const char* error;
};

class ExpressionCompileErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ExpressionCompileErrorTest, NamesTheColumn) {
  auto compiled = Expression::compile(GetParam().text);
  ASSERT_FALSE(compiled.isOk()) << GetParam().text;
  EXPECT_EQ(compiled.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(compiled.status().message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExpressionCompileErrorTest,
    ::testing::Values(
        BadCase{"", "empty expression"}, BadCase{"   ", "empty expression"},
        BadCase{"a ==", "unexpected end of expression at column 5"}, BadCase{"a == )", "unexpected ')' at column 6"},
        BadCase{"(a == 1", "expected ')' at column 8"}, BadCase{"a b", "unexpected 'b' at column 3"},
        BadCase{"a = 1", "unexpected character '=' at column 3"},
        BadCase{"a & b", "unexpected character '&' at column 3"}, BadCase{"'abc", "unterminated string at column 1"},
        BadCase{"'a\\qb'", "unknown escape \\q at column 3"}, BadCase{"foo(1)", "unknown function \"foo\" at column 1"},
        BadCase{"len(a, b)", "len() takes 1 argument, got 2 at column 1"},
        BadCase{"contains(a)", "contains() takes 2 arguments, got 1 at column 1"},
        BadCase{"exists('a')", "exists() needs a field name at column 1"},
        BadCase{"matches(a, '(x')", "matches() pattern at column 1: invalid regular expression: missing ): (x"},
        BadCase{"a..b", "bad field path \"a..b\" at column 1"}, BadCase{"[1, 2", "expected ',' at column 6"},
        BadCase{"99999999999999999999", "number out of range at column 1"}));

TEST(ExpressionTest, TypeErrorsAreErrorsNotCrashes) {
  auto minus = Expression::compile("level - 1");
  ASSERT_TRUE(minus.isOk());
  auto value = minus->evaluate(kRecord);
  ASSERT_FALSE(value.isOk());
  EXPECT_EQ(value.status().message(), "operator - needs two numbers, got string and number");

  auto divide = Expression::compile("status / 0");
  EXPECT_EQ(divide->evaluate(kRecord).status().message(), "division by zero");

  auto upper = Expression::compile("upper(status)");
  EXPECT_EQ(upper->evaluate(kRecord).status().message(), "upper() needs a string, got number");
}

// Nesting is bounded (kMaxExpressionDepth = 128): parsing and evaluating
// recurse once per level, so 100,000 '(' would otherwise overflow the stack.
std::string repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

std::string compileError(const std::string& text) {
  auto compiled = Expression::compile(text);
  return compiled ? "compiled" : compiled.status().message();
}

TEST(ExpressionTest, NestingUpToTheLimitCompilesAndEvaluates) {
  ASSERT_EQ(kMaxExpressionDepth, 128);
  // The whole expression is level 1: 127 parentheses inside it make 128.
  auto parens = Expression::compile(repeat("(", 127) + "status" + repeat(")", 127));
  ASSERT_TRUE(parens.isOk()) << parens.status().message();
  EXPECT_EQ(*parens->evaluate(kRecord), 503);
  // 127 operators over 128 operands: a tree 128 nodes deep.
  auto chain = Expression::compile("1" + repeat(" + 1", 127));
  ASSERT_TRUE(chain.isOk()) << chain.status().message();
  EXPECT_EQ(*chain->evaluate(kRecord), 128);
  auto negations = Expression::compile(repeat("!", 127) + "flag");
  ASSERT_TRUE(negations.isOk()) << negations.status().message();
  EXPECT_EQ(*negations->evaluate(kRecord), true);
}

TEST(ExpressionTest, NestingPastTheLimitIsACompileErrorNamingIt) {
  EXPECT_EQ(compileError(repeat("(", 100'000) + "1" + repeat(")", 100'000)),
            "expression nests deeper than 128 levels at column 129");
  EXPECT_EQ(compileError(repeat("(", 128) + "1" + repeat(")", 128)),
            "expression nests deeper than 128 levels at column 129");
  EXPECT_EQ(compileError(repeat("[", 100'000)), "expression nests deeper than 128 levels at column 129");
  EXPECT_EQ(compileError(repeat("-", 100'000) + "1"), "expression nests deeper than 128 levels at column 129");
  EXPECT_EQ(compileError(repeat("len(", 200) + "a" + repeat(")", 200)),
            "expression nests deeper than 128 levels at column 513");
  // 128 operators: the tree is 129 deep; the error names the last operator's column.
  EXPECT_EQ(compileError("1" + repeat("+1", 128)), "expression nests deeper than 128 levels at column 256");
  EXPECT_EQ(compileError("a" + repeat(" || a", 100'000)), "expression nests deeper than 128 levels at column 638");
}

TEST(ExpressionTest, NonObjectRecordsReadAsMissingFields) {
  auto compiled = Expression::compile("a.b == 1 || exists(a)");
  ASSERT_TRUE(compiled.isOk());
  EXPECT_EQ(*compiled->test(json::array({1, 2})), false);
  EXPECT_EQ(*compiled->test(json("text")), false);
  EXPECT_EQ(*compiled->test(json::parse(R"({"a":{"b":1}})")), true);
}

TEST(ExpressionTest, FindFieldWalksDottedPaths) {
  EXPECT_EQ(*findField(kRecord, "user.name"), json("Ada"));
  EXPECT_EQ(findField(kRecord, "user.name.first"), nullptr);
  EXPECT_EQ(findField(kRecord, "nope"), nullptr);
}

TEST(ExpressionTest, Truthiness) {
  EXPECT_FALSE(isTruthy(json()));
  EXPECT_FALSE(isTruthy(json(0)));
  EXPECT_FALSE(isTruthy(json("")));
  EXPECT_FALSE(isTruthy(json::array()));
  EXPECT_TRUE(isTruthy(json(0.5)));
  EXPECT_TRUE(isTruthy(json("0")));
}

}  // namespace
}  // namespace sluice::runtime
