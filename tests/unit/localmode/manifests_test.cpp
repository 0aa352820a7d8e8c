// Manifest files for --local: errors carry file, line and field; every
// example of examples/ is accepted.
#include "localmode/manifests.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/yaml.h"

namespace sluice::localmode {
namespace {

TEST(YamlJsonTest, TypesScalarsLikeKubectl) {
  auto docs = parseYamlDocuments("a: 1\nb: '1'\nc: true\nd: 2.5\ne: ~\nf: text\ng: \"true\"\n");
  ASSERT_TRUE(docs.isOk());
  EXPECT_EQ((*docs)[0].value, nlohmann::json::parse(R"({"a":1,"b":"1","c":true,"d":2.5,"e":null,"f":"text",
                                                       "g":"true"})"));
  EXPECT_EQ((*docs)[0].lineOf("/d"), 4);
  EXPECT_EQ((*docs)[0].lineOf("/d/missing"), 4);
}

TEST(ManifestsTest, ErrorsNameFileLineAndField) {
  const std::string text = R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: clean
spec:
  runtime: builtin
  pipeline:
    - decompress: {format: gzip}
  scaling:
    maxReplicas: 0
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata:
  name: files
spec:
  functionRef: {name: clean}
  objectStore:
    type: dir
)";
  ManifestFile file = parseManifests("fns/clean.yaml", text, CrdValidator::builtin());
  EXPECT_TRUE(file.objects.empty());
  std::vector<std::string> want = {
      "fns/clean.yaml:10: Function default/clean: spec.scaling.maxReplicas: Invalid value: 0: "
      "spec.scaling.maxReplicas in body should be greater than or equal to 1",
      "fns/clean.yaml:18: Trigger default/files: spec.objectStore: Invalid value: \"object\": objectStore of type dir "
      "needs path",
  };
  EXPECT_EQ(file.errors, want);
}

TEST(ManifestsTest, YamlSyntaxErrorNamesTheLine) {
  ManifestFile file = parseManifests("bad.yaml", "kind: Function\nmetadata:\n  name: [x\n", CrdValidator::builtin());
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].rfind("bad.yaml:", 0), 0u) << file.errors[0];
  EXPECT_NE(file.errors[0].find("invalid YAML"), std::string::npos) << file.errors[0];
}

// Found by tests/fuzz/manifest_fuzz: a byte that is not UTF-8 reached the
// validator's dump() of a value, which threw past --check (std::terminate).
TEST(ManifestsTest, TextThatIsNotUtf8IsAnErrorNamingTheLine) {
  const std::string text =
      "# Seed scenario 4\napiVersion: sluice.io/v1al\xa3pha1\nkind: Function\nmetadata:\n  name: nightly\n";
  ManifestFile file = parseManifests("fn.yaml", text, CrdValidator::builtin());
  EXPECT_TRUE(file.objects.empty());
  EXPECT_EQ(file.errors, std::vector<std::string>{"fn.yaml:2: invalid YAML: line 2, column 27: invalid UTF-8"});
  auto docs = parseYamlDocuments("a: \"\xe2\x82\"\n");  // a truncated 3-byte sequence
  ASSERT_FALSE(docs.isOk());
  EXPECT_EQ(docs.status().message(), "line 1, column 5: invalid UTF-8");
}

// Found by tests/fuzz/manifest_fuzz: yaml-cpp 0.7's LoadAll() never returns
// on a ',' after a document (its memory grows until the OOM killer comes), so
// --check hung; now an error names the ','.
TEST(ManifestsTest, CommaAfterADocumentIsAnErrorNotAHang) {
  ManifestFile file =
      parseManifests("fn.yaml", "{\"a\":1,\"b\":\"1\",\"c\":~rue,\"d\":2.5,\"a\":null},", CrdValidator::builtin());
  EXPECT_TRUE(file.objects.empty());
  EXPECT_EQ(file.errors, std::vector<std::string>{"fn.yaml:1: invalid YAML: line 1, column 42: unexpected ','"});
  EXPECT_EQ(parseYamlDocuments("[1],").status().message(), "line 1, column 4: unexpected ','");
  EXPECT_EQ(parseYamlDocuments("kind: Function\n---\n[x]\n,\n").status().message(), "line 4, column 1: unexpected ','");
  // Commas elsewhere are fine.
  auto docs = parseYamlDocuments("a: x, y\n---\nb: [1, 2]\n");
  ASSERT_TRUE(docs.isOk()) << docs.status().message();
  EXPECT_EQ(docs->size(), 2u);
}

// Found by tests/fuzz/manifest_fuzz: a kind or apiVersion that is not a
// string (here an anchor on nothing: null) threw out of the validator.
TEST(ManifestsTest, KindOrApiVersionThatIsNotAStringIsAnError) {
  ManifestFile file = parseManifests(
      "fn.yaml", "apiVersion: sluice.io/v1alpha1\nkind: &unction\nmetadata:\n  name: x\n", CrdValidator::builtin());
  EXPECT_TRUE(file.objects.empty());
  EXPECT_EQ(file.errors,
            std::vector<std::string>{
                "fn.yaml:2: ? default/x: kind: Unsupported value: null: supported values: Function, Trigger"});
  file = parseManifests("fn.yaml", "apiVersion: [1]\nkind: Function\nmetadata: {name: x}\n", CrdValidator::builtin());
  EXPECT_EQ(file.errors, std::vector<std::string>{"fn.yaml:1: Function default/x: apiVersion: Unsupported value: [1]: "
                                                  "supported values: \"sluice.io/v1alpha1\""});
}

TEST(ManifestsTest, EveryExampleParsesWithoutErrors) {
  int objects = 0;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/examples")) {
    if (!entry.is_directory()) continue;
    for (const std::string& path : manifestPaths(entry.path().string())) {
      ManifestFile file = loadManifestFile(path, CrdValidator::builtin());
      EXPECT_TRUE(file.errors.empty()) << path << ": " << (file.errors.empty() ? "" : file.errors[0]);
      objects += static_cast<int>(file.objects.size());
      ++files;
    }
  }
  // Five seed scenarios, a Function and a Trigger each.
  EXPECT_EQ(files, 5);
  EXPECT_EQ(objects, 10);
}

TEST(ManifestsTest, SecretsAreKeptWithStringDataFoldedIntoBase64Data) {
  auto file = parseManifests("s.yaml",
                             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  accessKey: "
                             "minio\ndata:\n  secretKey: c2VjcmV0\n",
                             CrdValidator::builtin());
  ASSERT_TRUE(file.errors.empty()) << file.errors[0];
  ASSERT_EQ(file.objects.size(), 1u);
  EXPECT_EQ(file.objects[0]["data"], (nlohmann::json{{"accessKey", "bWluaW8="}, {"secretKey", "c2VjcmV0"}}));
  EXPECT_FALSE(file.objects[0].contains("stringData"));
  EXPECT_EQ(file.objects[0]["metadata"]["namespace"], "default");

  auto bad = parseManifests("s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  key: '*'\n",
                            CrdValidator::builtin());
  EXPECT_EQ(bad.errors, std::vector<std::string>{"s.yaml:6: Secret default/creds: data[key]: Invalid value: not base64 "
                                                 "(use stringData for plain text)"});
}

}  // namespace
}  // namespace sluice::localmode
