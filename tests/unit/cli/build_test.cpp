// `sluice build` with scripted programs: what it stages (and leaves out), the
// commands it gives buildah and pip, and its errors, each naming what is at
// fault, with their exit codes. The real buildah and pip:
// tests/integration/cli/cli_build_test.sh.
#include "cli/build.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "cli_harness.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::writeText;

const std::string kId = "0123456789ab" + std::string(52, 'f');

// Answers like buildah and a Python 3.11 pip; records each argv, and what /code holds at `buildah copy`.
struct FakePrograms {
  std::vector<std::vector<std::string>> calls;
  std::map<std::string, ProgramOutput> answers;  // by "program verb" ("buildah from", "python3 -m")
  std::vector<std::string> staged;               // "path mode mtime" of each entry copied
  bool buildahMissing = false;

  ProgramOutput operator()(const std::vector<std::string>& argv) {
    calls.push_back(argv);
    if (buildahMissing && argv[0] == "buildah") return {false, 127, "", "cannot run buildah: No such file"};
    const std::string key = argv[0] + " " + argv[1];
    if (key == "buildah copy") recordStage(argv[argv.size() - 2]);
    if (auto it = answers.find(key); it != answers.end()) return it->second;
    if (key == "python3 -c") return {true, 0, "3.11\n", ""};
    if (key == "python3 -m") writeText(argv[9] + "/tinypkg-1.0.dist-info/RECORD", "tinypkg/__init__.py,,\n");
    if (key == "buildah from") return {true, 0, "working-container\n", ""};
    if (key == "buildah commit") return {true, 0, kId + "\n", ""};
    return {true, 0, "", ""};
  }
  void recordStage(const fs::path& code) {
    for (auto it = fs::recursive_directory_iterator(code); it != fs::recursive_directory_iterator(); ++it) {
      struct stat st {};
      ::lstat(it->path().c_str(), &st);
      staged.push_back(it->path().lexically_relative(code).string() + " " + std::to_string(st.st_mode & 0777) + " " +
                       std::to_string(st.st_mtime));
    }
    std::sort(staged.begin(), staged.end());
  }
};

BuildOptions optionsFor(const TempDir& tmp) {
  BuildOptions o;
  o.dir = (tmp.path / "greeter").string();
  o.stageRoot = (tmp.path / "stage").string();
  o.sourceDateEpoch = 7;
  return o;
}

TEST(BuildTest, StagesTheHandlerWithFixedModesAndTimesInstallsRequirementsAndTagsByDigest) {
  TempDir tmp;
  writeText(tmp.path / "greeter/index.py", "def main_handler(event, context):\n    return event\n");
  writeText(tmp.path / "greeter/lib/util.py", "X = 1\n");
  writeText(tmp.path / "greeter/requirements.txt", "tinypkg==1.0\n");
  writeText(tmp.path / "greeter/.git/config", "");
  writeText(tmp.path / "greeter/__pycache__/index.cpython-311.pyc", "");
  writeText(tmp.path / "greeter/lib/util.pyc", "");
  ::chmod((tmp.path / "greeter/lib/util.py").c_str(), 0600);
  FakePrograms programs;
  BuildOptions o = optionsFor(tmp);
  o.indexUrl = "http://127.0.0.1:1/simple";
  auto built = buildCodeImage(o, std::ref(programs));
  ASSERT_TRUE(built.isOk()) << built.status().toString();
  EXPECT_EQ(built->image, "sluice.local/code/greeter:0123456789ab");
  EXPECT_EQ(built->digest, "sha256:" + kId);
  EXPECT_EQ(built->base, defaultBuildBase());
  EXPECT_EQ(built->files, (std::vector<std::string>{"index.py", "lib/util.py", "requirements.txt"}));
  EXPECT_EQ(built->packages, (std::vector<std::string>{"tinypkg-1.0"}));
  // 420 = 0644, 493 = 0755: the owner-only file is readable by the pod's user; every time is the epoch's.
  EXPECT_EQ(programs.staged,
            (std::vector<std::string>{"index.py 420 7", "lib 493 7", "lib/util.py 420 7", "requirements.txt 420 7",
                                      "vendor 493 7", "vendor/tinypkg-1.0.dist-info 493 7",
                                      "vendor/tinypkg-1.0.dist-info/RECORD 420 7"}));
  const std::string stage = o.stageRoot + "/code";
  const std::vector<std::vector<std::string>> expected = {
      {"python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"},
      {"python3", "-m", "pip", "install", "--no-compile", "--no-cache-dir", "--no-input", "--disable-pip-version-check",
       "--target", stage + "/vendor", "-r", o.dir + "/requirements.txt", "--index-url", "http://127.0.0.1:1/simple"},
      {"buildah", "from", "--pull=never", "--quiet", defaultBuildBase()},
      {"buildah", "copy", "--quiet", "--chown", "0:0", "working-container", stage + "/", "/code/"},
      {"buildah", "commit", "--quiet", "--rm", "--timestamp", "7", "working-container"},
      {"buildah", "tag", kId, "sluice.local/code/greeter:0123456789ab"}};
  EXPECT_EQ(programs.calls, expected);
  EXPECT_FALSE(fs::exists(o.stageRoot)) << "the stage is removed";
}

TEST(BuildTest, ErrorsNameTheDirectoryTheNameOrTheTool) {
  TempDir tmp;
  FakePrograms programs;
  BuildOptions o = optionsFor(tmp);
  EXPECT_EQ(buildCodeImage(o, std::ref(programs)).status().message(), o.dir + ": no such directory");
  writeText(tmp.path / "greeter/README.md", "");
  EXPECT_EQ(buildCodeImage(o, std::ref(programs)).status().message(),
            o.dir +
                ": no handler: no *.py file at its top level (the handler's module, e.g. index.py for handler "
                "index.main_handler)");
  writeText(tmp.path / "greeter/index.py", "");
  o.name = "Greeter";
  auto badName = buildCodeImage(o, std::ref(programs));
  EXPECT_EQ(badName.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(badName.status().message(),
            "--name: \"Greeter\" is not a valid image name (lowercase letters and digits, separated by '.', '_' or "
            "'-')");
  o.name = "";
  programs.buildahMissing = true;
  auto missing = buildCodeImage(o, std::ref(programs));
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(missing.status().message(),
            "buildah not found or not executable: cannot run buildah: No such file (sluice build needs buildah: the "
            "Debian package buildah; make deps)");
  EXPECT_TRUE(programs.calls.size() == 1) << "nothing after the missing buildah";
}

TEST(BuildTest, APipFailureNamesRequirementsTxtWithPipsLastLine) {
  TempDir tmp;
  writeText(tmp.path / "greeter/index.py", "");
  writeText(tmp.path / "greeter/requirements.txt", "nosuchpkg==9.9\n");
  FakePrograms programs;
  programs.answers["python3 -m"] = {
      true, 1, "Looking in indexes: http://127.0.0.1:1/simple\n",
      "ERROR: Could not find a version that satisfies the requirement nosuchpkg==9.9 (from versions: none)\n"
      "ERROR: No matching distribution found for nosuchpkg==9.9\n"};
  BuildOptions o = optionsFor(tmp);
  auto built = buildCodeImage(o, std::ref(programs));
  EXPECT_EQ(built.status().code(), StatusCode::kInternal);
  EXPECT_EQ(built.status().message(), o.dir +
                                          "/requirements.txt: pip install failed (exit 1): ERROR: No matching "
                                          "distribution found for nosuchpkg==9.9");
  EXPECT_EQ(programs.calls.size(), 2U) << "no image is made";
  programs.answers["python3 -c"] = {true, 0, "3.12\n", ""};
  EXPECT_EQ(buildCodeImage(o, std::ref(programs)).status().message(),
            o.dir +
                "/requirements.txt: python3 is Python 3.12; the packages must be installed by a Python 3.11 (the "
                "runtime's), with pip");
}

TEST(BuildTest, TheCommandPrintsImageAndDigestAndExitsTwoOnABadDirectory) {
  TempDir tmp;
  writeText(tmp.path / "greeter/index.py", "");
  testing::Harness h;
  FakePrograms programs;
  h.env.capture = std::ref(programs);
  EXPECT_EQ(h.run({"build", (tmp.path / "greeter").string(), "-o", "json"}), 0) << h.err.str();
  auto printed = nlohmann::json::parse(h.out.str());
  EXPECT_EQ(printed["image"], "sluice.local/code/greeter:0123456789ab");
  EXPECT_EQ(printed["digest"], "sha256:" + kId);
  EXPECT_EQ(h.run({"build", (tmp.path / "none").string()}), 2);
  EXPECT_EQ(h.err.str(), "sluice build: " + (tmp.path / "none").string() + ": no such directory\n");
  programs.answers["buildah commit"] = {true, 125, "", "Error: committing container: no space left on device\n"};
  EXPECT_EQ(h.run({"build", (tmp.path / "greeter").string()}), 1);
  EXPECT_EQ(h.err.str(),
            "sluice build: buildah commit failed (exit 125): Error: committing container: no space left "
            "on device\n");
  EXPECT_EQ(programs.calls.back(), (std::vector<std::string>{"buildah", "rm", "working-container"}))
      << "the working container is removed";
}

}  // namespace
}  // namespace sluice::cli
