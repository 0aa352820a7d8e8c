// spec.protocol python: finding the image's Python 3.11 standard library, and
// the error naming what the image has instead (docs/handler-images.md).
#include "runtime/python/python_home.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice::runtime::python {
namespace {

std::string freshRoot(const std::string& name) {
  auto root = std::filesystem::path(::testing::TempDir()) / ("sluice-python-home-" + name + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  return root.string();
}

void addStdlib(const std::string& root, const std::string& prefix, const std::string& version) {
  auto dir = std::filesystem::path(root + prefix + "/lib/python" + version);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "os.py") << "# os\n";
}

TEST(PythonHomeTest, PrefersUsrLocalThenUsr) {
  const std::string root = freshRoot("both");
  addStdlib(root, "/usr", "3.11");
  EXPECT_EQ(*findImagePythonHome(root), "/usr");
  addStdlib(root, "/usr/local", "3.11");
  EXPECT_EQ(*findImagePythonHome(root), "/usr/local");
}

TEST(PythonHomeTest, AnotherVersionIsNamedInTheError) {
  const std::string root = freshRoot("other");
  addStdlib(root, "/usr/local", "3.12");
  auto home = findImagePythonHome(root);
  ASSERT_FALSE(home.isOk());
  EXPECT_EQ(home.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(home.status().message(),
            "spec.protocol python: the image has Python 3.12 (/usr/local/lib/python3.12); the Sluice runtime embeds "
            "Python 3.11 and needs the image's Python 3.11 standard library (lib/python3.11/os.py): use an image with "
            "Python 3.11, or spec.protocol http (docs/handler-images.md)");
}

TEST(PythonHomeTest, NoPythonAtAll) {
  auto home = findImagePythonHome(freshRoot("none"));
  ASSERT_FALSE(home.isOk());
  EXPECT_NE(home.status().message().find("the image has no Python standard library under /usr/local/lib or /usr/lib"),
            std::string::npos)
      << home.status().message();
}

}  // namespace
}  // namespace sluice::runtime::python
