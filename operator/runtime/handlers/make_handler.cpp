#include "runtime/handlers/make_handler.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/memory_limit.h"
#include "runtime/pipeline/pipeline.h"
#include "runtime/python/python_runtime.h"

namespace sluice::runtime {

namespace {

// Writes configuration-carried module files into a fresh private directory under $TMPDIR (or /tmp).
Result<std::string> writeCodeFiles(const std::map<std::string, std::string>& files) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-code-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return unavailable("codeFiles: cannot create a directory from " + pattern);
  for (const auto& [name, source] : files) {
    std::ofstream out(std::filesystem::path(pattern) / name, std::ios::binary);
    out << source;
    if (!out.flush()) return unavailable("codeFiles: cannot write " + pattern + "/" + name);
  }
  return pattern;
}

}  // namespace

Result<std::unique_ptr<Handler>> makeHandler(const config::FunctionConfig& config) {
  if (config.runtime == config::RuntimeKind::kBuiltin) {
    auto pipeline = pipeline::Pipeline::build(config.pipeline);
    if (!pipeline) return pipeline.status();
    return std::unique_ptr<Handler>(std::move(*pipeline));
  }
  python::LoadOptions load;
  load.codeDir = config.codeDir;
  if (!config.codeFiles.empty()) {
    auto dir = writeCodeFiles(config.codeFiles);
    if (!dir.isOk()) return dir.status();
    load.codeDir = *dir;
  }
  load.dependencyDirs = config.dependencyDirs;
  load.handler = config.handler;
  load.environment = config.environment;
  python::HandlerOptions options;
  options.functionName = config.name;
  options.namespaceName = config.namespaceName;
  options.eventShape = config.eventShape;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout);
  options.concurrency = config.concurrency;
  options.shapeOptions = shapes::shapeOptionsFor(config);
  options.compat = config.compat;
  options.environment = config.environment;
  // What the Function declares, else what the container may really use.
  options.memoryLimitMb = config.memoryLimitMb > 0 ? config.memoryLimitMb : memoryLimitMebibytes();
  auto handler = python::PythonRuntime::instance().load(load, std::move(options));
  if (!handler) return handler.status();
  return std::unique_ptr<Handler>(std::move(*handler));
}

void prepareHandlers() { (void)python::PythonRuntime::instance(); }

bool handlersHealthy() { return python::pythonHealthy(); }

}  // namespace sluice::runtime
