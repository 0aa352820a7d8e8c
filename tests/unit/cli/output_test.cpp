// --output yaml reads back (with the project's YAML 1.2 reader, as kubectl's)
// as exactly the JSON it came from: strings that look like other types keep
// their quotes, empty collections stay collections.
#include "cli/output.h"

#include <gtest/gtest.h>

#include "common/yaml.h"

namespace sluice::cli {
namespace {

TEST(OutputTest, YamlReadsBackAsTheSameJson) {
  const nlohmann::json value = {{"strings", {"True", "False", "true", "null",   "~",   "12", "1e3",         "0x1F",
                                             ".inf", "-",     "",     "a: b",   "- x", "#c", "multi\nline", "  padded ",
                                             "yes",  "NULL",  "'q'",  "\"dq\"", "@at", "%p", "ünï"}},
                                {"numbers", {0, -3, 2.5, 1e20}},
                                {"flags", {true, false}},
                                {"nothing", nullptr},
                                {"empty", {{"list", nlohmann::json::array()}, {"map", nlohmann::json::object()}}},
                                {"nested", {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  const std::string yaml = toYaml(value);
  auto documents = parseYamlDocuments(yaml);
  ASSERT_TRUE(documents.isOk()) << documents.status().message() << "\n" << yaml;
  ASSERT_EQ(documents->size(), 1u);
  EXPECT_EQ((*documents)[0].value, value) << yaml;
}

TEST(OutputTest, FormatsAreNamedAndOthersRefused) {
  EXPECT_EQ(*parseOutputFormat(""), OutputFormat::kText);
  EXPECT_EQ(*parseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*parseOutputFormat("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(parseOutputFormat("wide").status().message(), "--output: wide is not one of text, json, yaml");
  EXPECT_EQ(render({{"a", 1}}, OutputFormat::kJson), "{\n  \"a\": 1\n}\n");
  EXPECT_EQ(render({{"a", 1}}, OutputFormat::kYaml), "a: 1\n");
}

}  // namespace
}  // namespace sluice::cli
