#include "runtime/handlers/make_handler.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/memory_limit.h"
#include "runtime/handlers/http_handler.h"
#include "runtime/pipeline/pipeline.h"
#include "runtime/python/python_home.h"
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

// The handler server beside the runtime (docs/handler-images.md).
Result<std::unique_ptr<Handler>> makeHttpHandler(const config::FunctionConfig& config) {
  HttpHandlerOptions options;
  options.port = config.http.port;
  options.path = config.http.path;
  options.functionName = config.name;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout);
  auto handler = HttpHandler::create(std::move(options));
  if (!handler.isOk()) return handler.status();
  return std::unique_ptr<Handler>(std::move(*handler));
}

}  // namespace

Result<std::unique_ptr<Handler>> makeHandler(const config::FunctionConfig& config) {
  if (config.runtime == config::RuntimeKind::kBuiltin) {
    auto pipeline = pipeline::Pipeline::build(config.pipeline);
    if (!pipeline) return pipeline.status();
    return std::unique_ptr<Handler>(std::move(*pipeline));
  }
  if (config.runtime == config::RuntimeKind::kHttp) return makeHttpHandler(config);
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

Status usePythonOfImage() {
  const char* fromImage = std::getenv("SLUICE_PYTHON_FROM_IMAGE");
  if (fromImage == nullptr || std::string(fromImage) != "1" || std::getenv("PYTHONHOME") != nullptr) {
    return Status::ok();
  }
  auto home = python::findImagePythonHome("");
  if (!home.isOk()) return home.status();
  ::setenv("PYTHONHOME", home->c_str(), 1);
  return Status::ok();
}

bool handlersHealthy() { return python::pythonHealthy(); }

}  // namespace sluice::runtime
