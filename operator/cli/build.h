// `sluice build DIR`: a code image of a Python handler directory, made with
// buildah on this machine (no registry, no Docker engine): FROM the Sluice
// Python runtime image (or --base), the directory's files under /code and,
// when DIR/requirements.txt exists, its packages installed by pip into
// /code/vendor, the folder the runtime puts first on sys.path
// (dependencyDirs' default). A Function runs it as spec.code.image.
//
// Reproducible: the files are staged in a fresh directory with fixed modes
// and times, without hidden files, __pycache__ or .pyc (pip --no-compile),
// and committed with `buildah commit --timestamp` (every layer entry and the
// image's dates set to SOURCE_DATE_EPOCH, default 0), so the same directory,
// packages and base give the same image ID (the sha256 of the image's
// config) on every build. The image is tagged by it:
// sluice.local/code/<name>:<its first 12 hex>.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::cli {

// A child program's end: its exit code and what it wrote.
struct ProgramOutput {
  bool started = true;  // false: it could not be executed (not found, not executable)
  int exitCode = 0;
  std::string out;
  std::string err;
};
// Runs argv (argv[0] looked up on PATH) to its end, capturing its output.
using ProgramRunner = std::function<ProgramOutput(const std::vector<std::string>&)>;

struct BuildOptions {
  std::string dir;
  std::string name;       // the image's name; default DIR's last component
  std::string base;       // default defaultBuildBase()
  std::string indexUrl;   // pip --index-url; unset, pip's own (PIP_INDEX_URL, pip.conf)
  std::string stageRoot;  // a directory to stage the files in, removed afterwards
  long long sourceDateEpoch = 0;
  std::string buildah = "buildah";
  std::string python = "python3";  // runs pip; must be Python 3.11, the runtime's
};

struct BuiltImage {
  std::string image;   // sluice.local/code/<name>:<12 hex>
  std::string digest;  // sha256:<64 hex>, the image ID
  std::string name;
  std::string base;
  std::vector<std::string> files;     // under /code, sorted, without vendor/
  std::vector<std::string> packages;  // installed into /code/vendor: "name-version", sorted
  nlohmann::json toJson() const;
};

// localhost/sluice-runtime-python:<version>, as images/build.sh names it.
std::string defaultBuildBase();

// Errors: kInvalidArgument for the input (the directory, --name), naming it;
// kFailedPrecondition for a missing tool; kInternal for a failing pip or
// buildah, with the last line it wrote.
Result<BuiltImage> buildCodeImage(const BuildOptions& options, const ProgramRunner& run);

}  // namespace sluice::cli
