// `sluice check`: the messages are exactly the --local validator's (file,
// line, Kind ns/name, field), exit 2 on any error and 0 without; a code file
// that cannot be read is an error naming the annotation; --output json is the
// golden report.
#include "cli/check.h"

#include <gtest/gtest.h>

#include "api/v1alpha1/crd_validator.h"
#include "cli/app.h"
#include "cli_harness.h"
#include "localmode/manifests.h"

namespace sluice::cli {
namespace {

using testing::Harness;
using testing::TempDir;

constexpr const char* kBad = R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: broken}
spec:
  runtime: python3.11
  code: {inline: "x"}
  scaling:
    maxReplicas: 0
)";

constexpr const char* kGood = R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: fine, namespace: team-a}
spec:
  runtime: builtin
  pipeline: [{name: copy, mirror: {}}]
)";

TEST(CheckTest, ErrorsAreTheValidatorsAndExitTwo) {
  Harness h;
  TempDir dir;
  testing::writeText(dir.path / "a-bad.yaml", kBad);
  testing::writeText(dir.path / "b-good.yaml", kGood);
  localmode::ManifestFile expected =
      localmode::loadManifestFile((dir.path / "a-bad.yaml").string(), api::v1alpha1::CrdValidator::builtin());
  ASSERT_EQ(expected.errors.size(), 1u);
  EXPECT_EQ(expected.errors[0], (dir.path / "a-bad.yaml").string() +
                                    ":8: Function default/broken: spec.scaling.maxReplicas: Invalid value: 0: "
                                    "spec.scaling.maxReplicas in body should be greater than or equal to 1");
  EXPECT_EQ(h.run({"check", dir.path.string()}), kExitUsage);
  EXPECT_EQ(h.out.str(), expected.errors[0] + "\n" + dir.path.string() + ": 1 error(s)\n");
}

TEST(CheckTest, AValidFileExitsZero) {
  Harness h;
  TempDir dir;
  testing::writeText(dir.path / "good.yaml", kGood);
  EXPECT_EQ(h.run({"check", (dir.path / "good.yaml").string()}), kExitOk);
  EXPECT_EQ(h.out.str(), (dir.path / "good.yaml").string() + ": 1 object(s), no errors\n");
}

TEST(CheckTest, AMissingPathIsAnError) {
  Harness h;
  EXPECT_EQ(h.run({"check", "/no/such/dir"}), kExitUsage);
  EXPECT_EQ(h.out.str(), "/no/such/dir: no such file or directory\n/no/such/dir: 1 error(s)\n");
}

TEST(CheckTest, AnUnreadableCodeFileNamesTheAnnotation) {
  Harness h;
  TempDir dir;
  testing::writeText(dir.path / "fn.yaml", R"(apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: coded
  annotations: {sluice.io/code-file: gone.py}
spec:
  runtime: python3.11
  code: {inline: "x"}
)");
  EXPECT_EQ(h.run({"check", dir.path.string()}), kExitUsage);
  EXPECT_EQ(h.out.str(), (dir.path / "fn.yaml").string() +
                             ":5: Function default/coded: metadata.annotations[sluice.io/code-file]: cannot read " +
                             (dir.path / "gone.py").string() + "\n" + dir.path.string() + ": 1 error(s)\n");
}

TEST(CheckTest, JsonOutputMatchesTheGolden) {
  Harness h;
  TempDir dir;
  testing::writeText(dir.path / "a-bad.yaml", kBad);
  testing::writeText(dir.path / "b-good.yaml", kGood);
  EXPECT_EQ(h.run({"check", dir.path.string(), "-o", "json"}), kExitUsage);
  // The golden names the directory DIR.
  testing::expectGolden("check.json", testing::replaceAll(h.out.str(), dir.path.string(), "DIR"));
  EXPECT_EQ(h.run({"check", dir.path.string()}), kExitUsage);
  testing::expectGolden("check.txt", testing::replaceAll(h.out.str(), dir.path.string(), "DIR"));
}

}  // namespace
}  // namespace sluice::cli
