#include "runtime/python/python_home.h"

#include <filesystem>
#include <regex>

namespace sluice::runtime::python {

namespace {

// The lib/python3.N directories (with an os.py) under a prefix, e.g. "3.12 (/usr/lib/python3.12)".
std::string otherVersions(const std::string& root, const std::string& prefix) {
  static const std::regex kVersion("python(3\\.[0-9]+)");
  std::error_code error;
  std::string found;
  for (const auto& entry : std::filesystem::directory_iterator(root + prefix + "/lib", error)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, match, kVersion)) continue;
    if (!std::filesystem::exists(entry.path() / "os.py", error)) continue;
    found += (found.empty() ? "" : ", ") + match[1].str() + " (" + prefix + "/lib/" + name + ")";
  }
  return found;
}

}  // namespace

Result<std::string> findImagePythonHome(const std::string& root) {
  std::error_code error;
  for (const char* prefix : {"/usr/local", "/usr"}) {
    if (std::filesystem::exists(root + prefix + "/lib/python3.11/os.py", error)) return std::string(prefix);
  }
  std::string found = otherVersions(root, "/usr/local");
  const std::string usr = otherVersions(root, "/usr");
  found += (found.empty() || usr.empty() ? "" : ", ") + usr;
  const std::string what =
      found.empty() ? "no Python standard library under /usr/local/lib or /usr/lib" : "Python " + found;
  return Status(StatusCode::kFailedPrecondition,
                "spec.protocol python: the image has " + what +
                    "; the Sluice runtime embeds Python 3.11 and needs the image's Python 3.11 standard library "
                    "(lib/python3.11/os.py): use an image with Python 3.11, or spec.protocol http "
                    "(docs/handler-images.md)");
}

}  // namespace sluice::runtime::python
