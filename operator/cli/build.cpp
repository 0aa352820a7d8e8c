#include "cli/build.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "sluice/version.h"

namespace sluice::cli {

namespace fs = std::filesystem;

namespace {

// The last line a program wrote that says something (stderr first: pip and buildah explain there).
std::string lastLine(const ProgramOutput& output) {
  for (const std::string* text : {&output.err, &output.out}) {
    size_t end = text->find_last_not_of(" \t\r\n");
    if (end == std::string::npos) continue;
    size_t start = text->rfind('\n', end);
    return text->substr(start == std::string::npos ? 0 : start + 1,
                        end - (start == std::string::npos ? 0 : start + 1) + 1);
  }
  return "(no output)";
}

std::string trimmed(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  return text.substr(start, text.find_last_not_of(" \t\r\n") - start + 1);
}

// What is left out of the image: hidden files (.git, .venv, editor files) and bytecode, which holds
// build times and would change the digest without changing the code.
bool leftOut(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.starts_with(".") || name == "__pycache__" || path.extension() == ".pyc";
}

// DIR's files to copy, relative and sorted; an error names an entry that is neither file nor directory.
Result<std::vector<std::string>> listFiles(const fs::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (leftOut(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory()) continue;
    const std::string relative = it->path().lexically_relative(dir).string();
    if (!it->is_regular_file()) {
      return invalidArgument((dir / relative).string() + ": not a regular file or directory (a broken symlink?)");
    }
    files.push_back(relative);
  }
  if (ec) return invalidArgument(dir.string() + ": cannot read: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

Status checkName(const std::string& name, const std::string& dir, bool given) {
  static const std::regex kComponent("[a-z0-9]+([._-][a-z0-9]+)*");
  if (std::regex_match(name, kComponent)) return Status::ok();
  const std::string what = given ? "--name: \"" + name + "\"" : "the name \"" + name + "\" (from " + dir + ")";
  return invalidArgument(what +
                         " is not a valid image name (lowercase letters and digits, separated by '.', '_' or "
                         "'-')" +
                         (given ? "" : ": give --name"));
}

// Copies the files into stage (parents made as needed), keeping only the executable bit.
Status stageFiles(const fs::path& dir, const std::vector<std::string>& files, const fs::path& stage) {
  std::error_code ec;
  for (const std::string& file : files) {
    fs::create_directories((stage / file).parent_path(), ec);
    if (!ec) fs::copy_file(dir / file, stage / file, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status(StatusCode::kInternal, "staging " + (dir / file).string() + ": " + ec.message());
  }
  return Status::ok();
}

// Fixed modes and times on everything staged (and no bytecode a package's build may have left), so
// two builds stage the same tree byte for byte; umask and copy times do not leak into the image.
Status normalize(const fs::path& stage, long long epoch) {
  std::error_code ec;
  std::vector<fs::path> paths = {stage};
  for (auto it = fs::recursive_directory_iterator(stage, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    paths.push_back(it->path());
  }
  if (ec) return Status(StatusCode::kInternal, "reading " + stage.string() + ": " + ec.message());
  for (const fs::path& p : paths) {
    if (p.filename() == "__pycache__" || p.extension() == ".pyc") fs::remove_all(p, ec);
  }
  const struct timespec times[2] = {{static_cast<time_t>(epoch), 0}, {static_cast<time_t>(epoch), 0}};
  for (const fs::path& p : paths) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;  // bytecode removed above
    if (!S_ISLNK(st.st_mode)) {
      const bool exec = S_ISDIR(st.st_mode) || (st.st_mode & S_IXUSR) != 0;
      ::chmod(p.c_str(), exec ? 0755 : 0644);
    }
    if (::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status(StatusCode::kInternal, "setting the time of " + p.string());
    }
  }
  return Status::ok();
}

// "name-version" of each package pip put into vendor (its *.dist-info folders), sorted.
std::vector<std::string> installedPackages(const fs::path& vendor) {
  std::vector<std::string> packages;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(vendor, ec)) {
    if (entry.path().extension() == ".dist-info") packages.push_back(entry.path().stem().string());
  }
  std::sort(packages.begin(), packages.end());
  return packages;
}

Status notStarted(const std::string& program, const std::string& why) {
  return Status(StatusCode::kFailedPrecondition, program + " not found or not executable: " + why);
}

// pip install -r DIR/requirements.txt into stage/vendor, with the Python the runtime embeds (3.11):
// packages with C extensions must be built for it.
Status installRequirements(const BuildOptions& o, const fs::path& requirements, const fs::path& vendor,
                           const ProgramRunner& run) {
  const std::string file = requirements.string();
  ProgramOutput version = run({o.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"});
  if (!version.started) {
    return notStarted(o.python, file + " needs Python 3.11 with pip to install its packages (" + version.err + ")");
  }
  if (version.exitCode != 0 || trimmed(version.out) != "3.11") {
    return Status(StatusCode::kFailedPrecondition,
                  file + ": " + o.python + " is Python " + trimmed(version.out) +
                      "; the packages must be installed by a Python 3.11 (the runtime's), with pip");
  }
  std::vector<std::string> argv = {o.python,       "-m",
                                   "pip",          "install",
                                   "--no-compile", "--no-cache-dir",
                                   "--no-input",   "--disable-pip-version-check",
                                   "--target",     vendor.string(),
                                   "-r",           file};
  if (!o.indexUrl.empty()) argv.insert(argv.end(), {"--index-url", o.indexUrl});
  ProgramOutput pip = run(argv);
  if (!pip.started) return notStarted(o.python, pip.err);
  if (pip.exitCode != 0) {
    return Status(StatusCode::kInternal,
                  file + ": pip install failed (exit " + std::to_string(pip.exitCode) + "): " + lastLine(pip));
  }
  return Status::ok();
}

Status buildahFailed(const std::string& step, const ProgramOutput& output) {
  if (!output.started) {
    return notStarted("buildah", output.err + " (sluice build needs buildah: the Debian package buildah; make deps)");
  }
  return Status(StatusCode::kInternal,
                "buildah " + step + " failed (exit " + std::to_string(output.exitCode) + "): " + lastLine(output));
}

// The staged /code on top of the base, committed with fixed times: the image ID.
Result<std::string> commitImage(const BuildOptions& o, const std::string& base, const fs::path& code,
                                const ProgramRunner& run) {
  ProgramOutput from = run({o.buildah, "from", "--pull=never", "--quiet", base});
  if (!from.started || from.exitCode != 0) {
    Status failed = buildahFailed("from " + base, from);
    if (!from.started || !o.base.empty()) return failed;
    return Status(failed.code(), failed.message() + " (--base, or make the runtime image: images/build.sh)");
  }
  const std::string container = trimmed(from.out);
  ProgramOutput step = run({o.buildah, "copy", "--quiet", "--chown", "0:0", container, code.string() + "/", "/code/"});
  if (step.started && step.exitCode == 0) {
    step = run({o.buildah, "commit", "--quiet", "--rm", "--timestamp", std::to_string(o.sourceDateEpoch), container});
    if (step.started && step.exitCode == 0) return trimmed(step.out);
    run({o.buildah, "rm", container});
    return buildahFailed("commit", step);
  }
  run({o.buildah, "rm", container});
  return buildahFailed("copy", step);
}

Result<BuiltImage> stageAndBuild(const BuildOptions& o, BuiltImage built, const fs::path& code,
                                 const ProgramRunner& run) {
  const fs::path dir(o.dir);
  if (Status s = stageFiles(dir, built.files, code); !s.isOk()) return s;
  if (fs::is_regular_file(dir / "requirements.txt")) {
    if (Status s = installRequirements(o, dir / "requirements.txt", code / "vendor", run); !s.isOk()) return s;
    built.packages = installedPackages(code / "vendor");
  }
  if (Status s = normalize(code, o.sourceDateEpoch); !s.isOk()) return s;
  auto id = commitImage(o, built.base, code, run);
  if (!id.isOk()) return id.status();
  static const std::regex kId("[0-9a-f]{64}");
  if (!std::regex_match(*id, kId)) return Status(StatusCode::kInternal, "buildah commit printed no image ID: " + *id);
  built.digest = "sha256:" + *id;
  built.image = "sluice.local/code/" + built.name + ":" + id->substr(0, 12);
  ProgramOutput tag = run({o.buildah, "tag", *id, built.image});
  if (!tag.started || tag.exitCode != 0) return buildahFailed("tag", tag);
  return built;
}

}  // namespace

nlohmann::json BuiltImage::toJson() const {
  return {{"image", image}, {"digest", digest}, {"name", name},
          {"base", base},   {"files", files},   {"packages", packages}};
}

std::string defaultBuildBase() { return std::string("localhost/sluice-runtime-python:") + kVersion; }

Result<BuiltImage> buildCodeImage(const BuildOptions& o, const ProgramRunner& run) {
  std::error_code ec;
  if (o.dir.empty()) return invalidArgument("DIR is required");
  if (!fs::is_directory(o.dir, ec)) return invalidArgument(o.dir + ": no such directory");
  BuiltImage built;
  built.name = o.name.empty() ? fs::absolute(o.dir).lexically_normal().filename().string() : o.name;
  if (built.name.empty()) built.name = fs::absolute(o.dir).lexically_normal().parent_path().filename().string();
  if (Status s = checkName(built.name, o.dir, !o.name.empty()); !s.isOk()) return s;
  built.base = o.base.empty() ? defaultBuildBase() : o.base;
  auto files = listFiles(o.dir);
  if (!files.isOk()) return files.status();
  built.files = std::move(*files);
  const bool handler = std::any_of(built.files.begin(), built.files.end(), [](const std::string& f) {
    return f.find('/') == std::string::npos && f.ends_with(".py");
  });
  if (!handler) {
    return invalidArgument(o.dir +
                           ": no handler: no *.py file at its top level (the handler's module, e.g. index.py for "
                           "handler index.main_handler)");
  }
  const fs::path code = fs::path(o.stageRoot) / "code";
  fs::remove_all(o.stageRoot, ec);
  fs::create_directories(code, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + code.string() + ": " + ec.message());
  auto result = stageAndBuild(o, std::move(built), code, run);
  fs::remove_all(o.stageRoot, ec);
  return result;
}

}  // namespace sluice::cli
